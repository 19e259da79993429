"""`pipeline watch [--once]` and `pipeline purge`."""
from __future__ import annotations

import logging
import sys

import click

from pipeline.cli.common import actor_name, json_option, print_json, workspace_option


class _LineFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(message)s", datefmt="%Y-%m-%d %H:%M:%S")


def _log_to_stderr(verbose: bool) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LineFormatter())
    logger = logging.getLogger("pipeline.watch")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False
    return handler


@click.command()
@click.option("--once", is_flag=True, help="Process everything in the inbox, wait for files still being copied, then exit.")
@click.option("--verbose", is_flag=True, help="Also log the technical details of unexpected errors.")
@json_option
@workspace_option
def watch(ws, once, verbose, as_json):
    """Watch the inbox and process every photo dropped there.

    One line per file on stderr says what happened and why. Files are taken once they have
    stopped changing for [watch] stable_seconds and decode completely. Stop with Ctrl-C or
    SIGTERM: the photos in hand are finished first. With --once: drain the inbox and exit
    (exit code 1 if any input was rejected or could not be handled).
    """
    from watch_folders.locks import WatcherRunning
    from watch_folders.watcher import run_watch

    handler = _log_to_stderr(verbose)
    try:
        summary = run_watch(ws, once=once, actor=actor_name(), on_record=print_json if as_json else None)
    except WatcherRunning as exc:
        if not once:
            raise
        # cron's --once next to the service: the work is being done, so this is not an error
        click.echo(f"Nothing to do: {exc.running_sentence()}", err=True)
        sys.exit(0)
    finally:
        logging.getLogger("pipeline.watch").removeHandler(handler)
    if once:
        click.echo(summary.line(), err=True)
        sys.exit(summary.exit_code)
    click.echo("Watcher stopped.", err=True)


@click.command()
@click.option("--dry-run", is_flag=True, help="List what would be removed, remove nothing.")
@json_option
@workspace_option
def purge(ws, dry_run, as_json):
    """Remove originals older than [originals] retention_days (kept while held for review)."""
    from pipeline.delivery.purge import purge_originals

    result = purge_originals(ws, dry_run=dry_run, actor=actor_name())
    if as_json:
        print_json(result)
    else:
        verb = "Would remove" if dry_run else "Removed"
        n = len(result["purged"])
        click.echo(f"{verb} the originals of {n} job{'s' if n != 1 else ''} finished before "
                   f"{result['cutoff']} ([originals] retention_days = {result['retention_days']}).")
        for item in result["purged"]:
            click.echo(f"  job {item['job_id']}: {', '.join(item['files'])}")
        for err in result["errors"]:
            click.echo(f"Could not remove {err['file']} (job {err['job_id']}): {err['error']}. "
                       "Check the permissions of that folder and run 'pipeline purge' again.", err=True)
    sys.exit(1 if result["errors"] else 0)


@click.command()
@json_option
@workspace_option
def recover(ws, as_json):
    """Finish what a crash or power cut left in flight (jobs received or processing), then exit.

    The watcher does this itself each time it starts; use this after a crash of 'pipeline process'.
    Exit code 1 if any of the finished jobs was rejected.
    """
    from watch_folders.locks import WatcherRunning
    from watch_folders.recover import recover_workspace

    try:
        records = recover_workspace(ws, actor=actor_name())
    except WatcherRunning as exc:
        click.echo(f"Nothing to do: {exc.running_sentence()}", err=True)
        sys.exit(0)
    for record in records:
        if as_json:
            print_json(record)
        else:
            from processors.gate import display

            click.echo(f"{record['status']:9} {display(record['source'])} — {record['reason']}")
    if not as_json:
        click.echo(f"Finished {len(records)} interrupted job{'s' if len(records) != 1 else ''}.", err=True)
    sys.exit(1 if any(r["status"] == "rejected" for r in records) else 0)
