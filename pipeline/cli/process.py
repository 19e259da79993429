"""`pipeline process PATH…`: one-shot processing of files and folders."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from pipeline.cli.common import executor_options, json_option, print_json, workspace_option
from pipeline.errors import UserError
from pipeline.batch.inputs import collect_inputs, largest_first
from pipeline.progress import progress_bar
from processors.gate import display

STATUS_STYLE = {"released": "green", "review": "yellow", "blocked": "red", "rejected": "red"}


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--caption", default=None, help="Caption for these photos (names are scrubbed per channel).")
@executor_options("analysed")
@json_option
@workspace_option
def process(ws, paths, caption, executor_kind, scheduler, workers, as_json):
    """Process photos (files or folders, recursively) once.

    Each photo ends released (one image per channel in approved/), held for review,
    blocked, or rejected (quarantine/), with a reason. Exit code 1 if any input was rejected.
    """
    missing = [p for p in paths if not Path(p).exists() and not Path(p).is_symlink()]
    if missing:
        raise UserError(f"Not found: {', '.join(display(m) for m in missing)}. Check the path and try again.")
    inputs = collect_inputs([Path(p) for p in paths])
    if not inputs:
        raise UserError("No photos found in " + ", ".join(display(p) for p in paths) + ".")
    from rich.console import Console
    from rich.markup import escape

    from pipeline.batch.runner import Batch
    from pipeline.batch.executor import ExecutorError, make_executor

    if executor_kind == "local" and workers is None:
        workers = min(len(inputs), _cores())
    try:
        executor = make_executor(executor_kind, scheduler=scheduler, workers=workers)
    except ExecutorError as exc:
        raise UserError(str(exc)) from None
    if executor.workers > 1:
        inputs = largest_first(inputs)  # records then come in that order (each names its source)
    if hasattr(executor, "start"):
        executor.start()  # workers warm up while the register is loaded
    counts: dict[str, int] = {}
    console = Console(stderr=True)
    inbox = (ws.root / "inbox").resolve()
    with executor, progress_bar(len(inputs), "Processing photos", console) as advance:
        from pipeline.video.progress import clip_progress_factory

        clips = clip_progress_factory(console, advance)
        for record in Batch(ws, executor, caption=caption, inbox=inbox, roots=[Path(p) for p in paths],
                            clip_progress=clips).run(inputs):
            counts[record["status"]] = counts.get(record["status"], 0) + 1
            if as_json:
                print_json(record)
            else:
                style = STATUS_STYLE[record["status"]]
                console.print(f"[{style}]{record['status']:9}[/] {escape(record['source'])} — "
                              f"{escape(record['reason'])}", highlight=False, markup=True)
                for channel, out in record.get("outputs", {}).items():
                    console.print(f"          {channel}: {out}", highlight=False)
            advance()
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    console.print(f"Done: {len(inputs)} photo(s): {summary}.", highlight=False)
    sys.exit(1 if counts.get("rejected") else 0)


def _cores() -> int:
    from pipeline.batch.executor import available_cores

    return available_cores()


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.absolute().parent.resolve().relative_to(folder)
        return True
    except ValueError:
        return False
