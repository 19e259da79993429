"""The ``pipeline`` command (click). Each command group lives in its own module."""
from __future__ import annotations

import os
import sys

import click

from consent.register import RegisterError
from pipeline.config import ConfigError
from pipeline.errors import UserError, failure_sentence
from pipeline.workspace import WorkspaceError, init_workspace


class FriendlyGroup(click.Group):
    """Turns every failure into one plain sentence on stderr and exit code 2, never a traceback
    (``PIPELINE_DEBUG=1`` shows the traceback of an unexpected one)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (UserError, WorkspaceError, ConfigError, RegisterError) as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(getattr(exc, "exit_code", 2))
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            if os.environ.get("PIPELINE_DEBUG"):
                raise
            click.echo(f"Error: {failure_sentence(exc)}", err=True)
            ctx.exit(2)


@click.group(cls=FriendlyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--workspace", type=click.Path(file_okay=False), envvar="PIPELINE_WORKSPACE", default=None,
              help="Workspace folder (default: $PIPELINE_WORKSPACE, else the current folder).")
@click.version_option(package_name="consent-pipeline")
@click.pass_context
def main(ctx, workspace):
    """consent-pipeline: publish school photos without publishing a child whose family said no."""
    ctx.obj = {"workspace": workspace}


@main.command()
@click.argument("directory", type=click.Path(file_okay=False))
def init(directory):
    """Create a workspace in DIRECTORY (configuration, database, folders)."""
    ws = init_workspace(directory)
    click.echo(f"Workspace ready in {ws.root.resolve()}")
    click.echo(f"  configuration: {ws.root / 'pipeline.toml'} (every key documented in it)")
    click.echo(f"  drop photos into: {ws.root / 'inbox'}")
    click.echo("Next: pipeline consent import register.csv, then pipeline consent enrol PHOTOS_DIR")
    ws.close()


def _register_commands() -> None:
    from pipeline.cli import audit, console, consent, process, pull, review, watch

    main.add_command(consent.consent)
    main.add_command(process.process)
    main.add_command(watch.watch)
    main.add_command(watch.purge)
    main.add_command(watch.recover)
    main.add_command(review.review)
    main.add_command(pull.pull)
    main.add_command(audit.audit)
    main.add_command(console.users)
    main.add_command(console.serve)


_register_commands()


def run() -> None:
    """The ``pipeline`` program: ``main``, then leave without tearing the interpreter down.

    Everything a command writes is flushed and closed by then (files are written atomically and
    fsynced, the database committed and closed, ``atexit`` handlers run, standard output and error
    flushed), so what is skipped is only Python freeing every module and object one by one: ~0.15 s
    after a batch with the face and text models loaded, for nothing. When a thread other than a
    daemon is still running, the ordinary exit (which waits for it) is used instead.
    """
    import atexit
    import threading

    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (``pipeline ... | head``): nothing more to say
            code = code or 120
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
