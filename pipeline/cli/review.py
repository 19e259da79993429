"""`pipeline review list | decide | serve`: a person decides on images the software was unsure about."""
from __future__ import annotations

import ipaddress

import click

from pipeline.cli.common import actor_name, json_option, print_json, workspace_option
from pipeline.errors import UserError


@click.group()
def review():
    """Decide on held images: list, decide, serve (a local web page)."""


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
            cands = ", ".join(f"{c['person']}" + (f" ({c['name']})" if c["name"] else "") + f" {c['distance']:.2f}"
                              for c in f["candidates"]) or "nobody in the register is close"
            click.echo(f"    face {f['face']}: {state}; candidates: {cands}")
        click.echo(f"    if released now: {item['on_release']}")
    click.echo("")
    click.echo("Decide with: pipeline review decide ID --face N --as PERSON|unknown, then --release or --block "
               "(or use the web page: pipeline review serve).")


@review.command("decide")
@click.argument("image_id", type=int, metavar="ID")
@click.option("--face", "face", type=int, default=None, metavar="N", help="Face number (from 'review list').")
@click.option("--as", "as_person", default=None, metavar="PERSON|unknown",
              help="Who face N is: a person id from the register, or 'unknown' (not in the register).")
@click.option("--release", "do_release", is_flag=True,
              help="Release the image as decided: every face not confirmed stays redacted on every channel.")
@click.option("--block", "do_block", is_flag=True, help="Block the image: it is never released.")
@click.option("--by", "by", default=None, metavar="NAME", help="Who decides (default: your login name).")
@json_option
@workspace_option
def review_decide(ws, image_id, face, as_person, do_release, do_block, by, as_json):
    """Decide on held image ID.

    \b
    --face N --as PERSON   say who face N is; the image is decided again with that identity.
                           It stays in the queue until you also --release it (or --block it):
                           confirming a face never releases an image on its own. Confirming a
                           person who must never be published blocks the image at once.
    --release              release it now; faces not confirmed stay redacted everywhere.
    --block                block it; nothing is released.

    --face/--as and --release can be given together (the identity is recorded first).
    Every decision is recorded with the time and the reviewer (--by, default your login name).
    """
    from pipeline.review import queue as rv

    if (face is None) != (as_person is None):
        raise UserError("--face N and --as PERSON go together, e.g. --face 1 --as P001 (or --as unknown).")
    if do_release and do_block:
        raise UserError("Choose one: --release or --block.")
    if face is None and not (do_release or do_block):
        raise UserError("Say what to decide: --face N --as PERSON|unknown, --release, or --block.")
    if do_block and face is not None:
        raise UserError("--block blocks the whole image; leave out --face/--as.")
    actor = (by or "").strip() or actor_name()
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
        result = rv.block(ws, image_id, actor=actor)
        _say(result, as_json, f"Image {image_id}: {result['reason']}." if result.get("kind")
             else f"Image {image_id} blocked: nothing from it will be released.")
        return
    result = rv.release(ws, image_id, actor=actor)
    lines = [f"Image {image_id} released: {result['reason']}."]
    lines += [f"  {ch}: {path}" for ch, path in result["outputs"].items()]
    _say(result, as_json, "\n".join(lines))


def _say(result: dict, as_json: bool, text: str) -> None:
    if as_json:
        print_json(result)
    else:
        click.echo(text)


@review.command("serve")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port of the local web page (0 = any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Keep 127.0.0.1: the page shows children's faces.")
@click.option("--by", "by", default=None, metavar="NAME", help="Who decides (default: your login name).")
@workspace_option
def review_serve(ws, port, host, by):
    """Open the review queue as a web page on this computer (http://127.0.0.1:PORT/).

    Held images are shown with redacted previews; the face in question is shown only on this page,
    with the candidate people and buttons for the same decisions as 'review decide'. Stop with Ctrl+C.
    """
    from pipeline.review.web import serve

    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        click.echo(f"WARNING: listening on {host} makes the page (with children's faces) reachable from other "
                   "computers. Use the default 127.0.0.1 unless you are sure.", err=True)
    actor = (by or "").strip() or actor_name()
    root = ws.root
    ws.close()
    serve(root, host=host, port=port, actor=actor,
          ready=lambda url: click.echo(f"Review page: {url}  (reviewer: {actor}; Ctrl+C to stop)"))
