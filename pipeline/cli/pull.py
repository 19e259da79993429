"""`pipeline pull --channel C --to DIR [--since DATE] [--again]`."""
from __future__ import annotations

import sys

import click

from pipeline.cli.common import actor_name, json_option, print_json, workspace_option
from pipeline.errors import UserError


@click.command()
@click.option("--channel", default=None, help="The channel to pull, e.g. website.")
@click.option("--to", "dest", default=None, type=click.Path(file_okay=False), help="Folder to copy the images into.")
@click.option("--since", default=None, help="Only images released on or after this date (YYYY-MM-DD).")
@click.option("--again", is_flag=True, help="Also hand images that were pulled before.")
@click.option("--takedowns", is_flag=True,
              help="List images handed out before that must now be taken down (consent withdrawn, expired…).")
@click.option("--done", "done_ids", type=int, multiple=True, metavar="N",
              help="With --takedowns: record that takedown N was carried out (repeatable).")
@json_option
@workspace_option
def pull(ws, channel, dest, since, again, takedowns, done_ids, as_json):
    """Copy released images of one channel, with their captions, to the comms lead's folder.

    Each image is handed once: a second pull copies only what is new (or re-rendered after a
    consent change), unless --again is given. Who pulled what, when and where is recorded.

    'pipeline pull --takedowns' lists copies handed out before that a consent change has made
    out of date: take them down from the channel, then record it with --takedowns --done N.
    """
    if done_ids and not takedowns:
        raise UserError("--done N records that takedown N was carried out and goes with --takedowns: "
                        "pipeline pull --takedowns --done N.")
    if takedowns:  # (review issue) takedowns after consent changes
        _takedowns(ws, done_ids, as_json)
        return
    if not channel or not dest:
        raise UserError("Give the channel and the folder: pipeline pull --channel website --to FOLDER "
                        "(or 'pipeline pull --takedowns' to see what must be taken down).")
    from pipeline.delivery.pull import pull as do_pull

    from pipeline.consent_changes.propagate import list_takedowns, takedown_line

    result = do_pull(ws, channel, dest, since=since, again=again, actor=actor_name())
    open_takedowns = list_takedowns(ws)  # shown on every pull: copies out there that must come down
    if as_json:
        print_json({**result.to_json(), "open_takedowns": open_takedowns})
    else:
        n = len(result.pulled)
        if n:
            click.echo(f"Pulled {n} image{'s' if n != 1 else ''} for {channel} into {result.dest}:")
            for item in result.pulled:
                extra = " (+ caption)" if item["caption_file"] else ""
                click.echo(f"  {item['file'].rsplit('/', 1)[-1]}{extra}")
        else:
            click.echo(f"Nothing new to pull for {channel}.")
        if result.already_pulled:
            click.echo(f"{result.already_pulled} image{'s' if result.already_pulled != 1 else ''} pulled before "
                       "were not copied again (use --again to copy them again).")
        for item in result.skipped:
            click.echo(f"Not handed over: {item['path']}: {item['reason']}.", err=True)
        if open_takedowns:
            n = len(open_takedowns)
            click.echo(f"TAKE DOWN: {n} image{'s' if n != 1 else ''} handed out before must be taken down "
                       "(a family changed their consent):")
            for t in open_takedowns:
                click.echo("  " + takedown_line(t))
            click.echo("When one is done: pipeline pull --takedowns --done N")
    sys.exit(1 if result.skipped else 0)


def _takedowns(ws, done_ids, as_json) -> None:
    from pipeline.consent_changes.propagate import list_takedowns, mark_takedown_done, takedown_line

    for n in done_ids:
        if not mark_takedown_done(ws, n, actor=actor_name()):
            raise UserError(f"There is no open takedown #{n}; 'pipeline pull --takedowns' lists them.")
    items = list_takedowns(ws)
    if as_json:
        print_json(items)
        return
    for n in done_ids:
        click.echo(f"Takedown #{n} recorded as done.")
    if not items:
        click.echo("Nothing needs to be taken down.")
        return
    click.echo(f"{len(items)} image{'s' if len(items) != 1 else ''} handed out before must be taken down:")
    for t in items:
        click.echo("  " + takedown_line(t))
    click.echo("When one is done: pipeline pull --takedowns --done N")
