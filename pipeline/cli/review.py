"""`pipeline review list | decide`: a person decides on images the software was unsure about."""
from __future__ import annotations

import click

from pipeline.cli.common import actor_name, json_option, print_json, workspace_option
from pipeline.errors import UserError


@click.group()
def review():
    """Decide on held images: list, decide (or use the web console: pipeline serve)."""


@review.command("list")
@json_option
@workspace_option
def review_list(ws, as_json):
    """List images held for review: id, source, reason, and per face the candidate people and distances."""
    from pipeline.review.queue import held_images

    items = held_images(ws)
    if as_json:
        print_json(items)
        return
    if not items:
        click.echo("Nothing is waiting for review.")
        return
    click.echo(f"{len(items)} image{'s' if len(items) != 1 else ''} waiting for review:")
    for item in items:
        click.echo("")
        click.echo(f"[{item['id']}] {item['source']}  (received {item['received_at'][:16].replace('T', ' ')})")
        click.echo(f"    held because: {item['reason']}")
        for c in item["copies"]:
            click.echo(f"    same photo received again as [{c['id']}] {c['source']}: follows this decision")
        if item["preview"]:
            click.echo(f"    redacted preview: {item['preview']}")
        for f in item["faces"]:
            if f["confirmed"]:
                state = f"confirmed as {f['confirmed']}"
            elif f["needs_review"]:
                state = "NEEDS A DECISION"
            else:
                state = f["match"] + (f" {f['person']}" if f["person"] else "")
            cands = ", ".join(f"{c['person']}" + (f" ({c['name']})" if c["name"] else "")
                              + f" {c['distance']:.2f} ({c['closeness']})"
                              for c in f["candidates"]) or "nobody in the register is close"
            click.echo(f"    face {f['face']}: {state}; candidates: {cands}")
        click.echo(f"    if released now: {item['on_release']}")
    click.echo("")
    click.echo("Decide with: pipeline review decide ID --face N --as PERSON|unknown, then --release or --block "
               "(or use the web console: pipeline serve).")


@review.command("decide")
@click.argument("image_id", type=int, metavar="ID")
@click.option("--face", "face", type=int, default=None, metavar="N",
              help="Face number, from 1 (as 'review list' shows them).")
@click.option("--as", "as_person", default=None, metavar="PERSON|unknown",
              help="Who face N is: a person id from the register, or 'unknown' (not in the register).")
@click.option("--release", "do_release", is_flag=True,
              help="Release the image as decided: every face not confirmed stays redacted on every channel.")
@click.option("--block", "do_block", is_flag=True, help="Block the image: it is never released.")
@click.option("--undo", "undo", is_flag=True, help="With --face N: take back who face N was said to be.")
@click.option("--reason", "note", default=None, help="Why (kept with a --release or --block decision).")
@click.option("--by", "by", default=None, metavar="NAME", help="Who decides (default: your login name).")
@json_option
@workspace_option
def review_decide(ws, image_id, face, as_person, do_release, do_block, undo, note, by, as_json):
    """Decide on held image ID.

    \b
    --face N --as PERSON   say who face N is; the image is decided again with that identity.
                           It stays in the queue until you also --release it (or --block it):
                           confirming a face never releases an image on its own. Confirming a
                           person who must never be published blocks the image at once.
    --release              release it now; faces not confirmed stay redacted everywhere.
    --block                block it; nothing is released.
    --face N --undo        take back who face N was said to be (while the image is held).
    --reason TEXT          why you release or block it (kept in the record).

    --face/--as and --release can be given together (the identity is recorded first).
    Every decision is recorded with the time and the reviewer (--by, default your login name).
    """
    from pipeline.review import queue as rv

    actor = (by or "").strip() or actor_name()
    if undo:
        if face is None or as_person is not None or do_release or do_block:
            raise UserError("--undo goes with --face N only, e.g. --face 1 --undo.")
        rv.undo_identify(ws, image_id, face, actor=actor)
        _say(rv.held_image(ws, image_id), as_json, f"Face {face} of image {image_id} is no longer identified; "
                                                   "the image is still held.")
        return
    if (face is None) != (as_person is None):
        raise UserError("--face N and --as PERSON go together, e.g. --face 1 --as P001 (or --as unknown).")
    if do_release and do_block:
        raise UserError("Choose one: --release or --block.")
    if face is None and not (do_release or do_block):
        raise UserError("Say what to decide: --face N --as PERSON|unknown, --release, or --block.")
    if do_block and face is not None:
        raise UserError("--block blocks the whole image; leave out --face/--as.")
    result = None
    if face is not None:
        result = rv.identify(ws, image_id, face, as_person.strip(), actor=actor)
        if result["status"] == "blocked":
            _say(result, as_json, f"Image {image_id} is now BLOCKED: {result['reason']}.")
            return
        if not do_release:
            _say(result, as_json, f"Recorded: face {face} of image {image_id} is {as_person}. "
                                  f"The image is still held; if released now: {result['on_release']}. "
                                  f"Release it with: pipeline review decide {image_id} --release")
            return
    if do_block:
        result = rv.block(ws, image_id, actor=actor, note=note)
        _say(result, as_json, f"Image {image_id}: {result['reason']}." if result.get("kind")
             else f"Image {image_id} blocked: nothing from it will be released.")
        return
    result = rv.release(ws, image_id, actor=actor, note=note)
    lines = [f"Image {image_id} released: {result['reason']}."]
    lines += [f"  {ch}: {path}" for ch, path in result["outputs"].items()]
    _say(result, as_json, "\n".join(lines))


def _say(result: dict, as_json: bool, text: str) -> None:
    if as_json:
        print_json(result)
    else:
        click.echo(text)


@review.command("retract")
@click.argument("image_id", type=int, metavar="ID")
@click.option("--reason", required=True, help="Why it is taken back (kept in the record and in the takedowns).")
@click.option("--by", "by", default=None, metavar="NAME", help="Who decides (default: your login name).")
@json_option
@workspace_option
def review_retract(ws, image_id, reason, by, as_json):
    """Take back released image ID: its files leave approved/, it counts as blocked, and every copy
    handed out with 'pipeline pull' (or downloaded on the console) is listed for takedown."""
    from pipeline.review.retract import retract

    result = retract(ws, image_id, actor=(by or "").strip() or actor_name(), reason=reason)
    lines = [f"Image {image_id} taken back: its released files were removed and it is now blocked."]
    if result["takedowns"]:
        lines.append(f"{len(result['takedowns'])} cop{'ies' if len(result['takedowns']) != 1 else 'y'} handed out "
                     "must be taken down: 'pipeline pull --takedowns' lists them.")
    _say(result, as_json, "\n".join(lines))
