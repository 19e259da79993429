"""A progress bar with count, rate and time left on a terminal; silent otherwise (pipes, --json, CI)."""
from __future__ import annotations

import contextlib


@contextlib.contextmanager
def progress_bar(total: int, label: str, console):
    if not console.is_terminal or total < 2:
        yield lambda n=1: None
        return
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn,
                               TimeRemainingColumn)

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[rate]}"), TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(label, total=total, rate="")

        def advance(n: int = 1) -> None:
            progress.advance(task, n)
            speed = progress.tasks[0].speed
            progress.update(task, rate=f"{speed:.1f} photos/s" if speed else "")

        advance.progress = progress  # so a clip can add its own line (frames done, fps) to this display
        yield advance
