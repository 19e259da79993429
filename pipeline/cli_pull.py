"""`pipeline pull --channel C --to DIR [--since DATE] [--again]`."""
from __future__ import annotations

import sys

import click

from pipeline.cli_common import actor_name, json_option, print_json, workspace_option


@click.command()
@click.option("--channel", required=True, help="The channel to pull, e.g. website.")
@click.option("--to", "dest", required=True, type=click.Path(file_okay=False), help="Folder to copy the images into.")
@click.option("--since", default=None, help="Only images released on or after this date (YYYY-MM-DD).")
@click.option("--again", is_flag=True, help="Also hand images that were pulled before.")
@json_option
@workspace_option
def pull(ws, channel, dest, since, again, as_json):
    """Copy released images of one channel, with their captions, to the comms lead's folder.

    Each image is handed once: a second pull copies only what is new (or re-rendered after a
    consent change), unless --again is given. Who pulled what, when and where is recorded.
    """
    from pipeline.pull import pull as do_pull

    result = do_pull(ws, channel, dest, since=since, again=again, actor=actor_name())
    if as_json:
        print_json(result.to_json())
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
    sys.exit(1 if result.skipped else 0)
