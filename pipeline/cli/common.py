"""Shared pieces of the command line: the --workspace option, --json output, plain error messages."""
from __future__ import annotations

import functools
import json
import sys

import click

from pipeline.actor import actor_name
from pipeline.workspace import Workspace, open_workspace


def workspace_option(func):
    """Add ``--workspace DIR`` to a command and pass the opened Workspace as ``ws``."""

    @click.option(
        "--workspace", "workspace_dir", type=click.Path(file_okay=False), default=None,
        help="Workspace folder (default: $PIPELINE_WORKSPACE, else the current folder).",
    )
    @click.pass_context
    @functools.wraps(func)
    def wrapper(ctx, workspace_dir, *args, **kwargs):
        root = workspace_dir or (ctx.find_root().obj or {}).get("workspace")
        ws = open_workspace(root)
        try:
            return ctx.invoke(func, ws, *args, **kwargs)
        finally:
            ws.close()

    return wrapper


def executor_options(what: str):
    """``--executor local|dask``, ``--scheduler ADDRESS`` and ``--workers N`` for a batch command;
    ``what`` completes "Where photos are …" in the help."""

    def decorate(func):
        for option in reversed((
            click.option("--executor", "executor_kind", type=click.Choice(["local", "dask"]), default="local",
                         show_default=True,
                         help=f"Where photos are {what}: worker processes on this computer, or a Dask cluster "
                              "(its workers receive the photos' bytes; see docs/scale.md)."),
            click.option("--scheduler", default=None, metavar="ADDRESS",
                         help="Dask scheduler address for --executor dask, e.g. tcp://10.0.0.5:8786."),
            click.option("--workers", type=click.IntRange(min=1), default=None,
                         help="Worker processes for --executor local (default: one per CPU core)."),
        )):
            func = option(func)
        return func

    return decorate


def json_option(func):
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")(func)


def print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=None, default=str) + "\n")
    sys.stdout.flush()


__all__ = ["Workspace", "workspace_option", "executor_options", "json_option", "print_json", "actor_name"]
