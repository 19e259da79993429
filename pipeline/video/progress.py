"""A progress line per clip while ``pipeline process`` works on it: frames done and frames per second."""
from __future__ import annotations

import time

PHASES = {"checking": "looking for faces", "rendering": "rendering"}


def clip_progress_factory(console, outer=None):
    """``factory(name) -> progress(phase, done, total)``; silent when the console is not a terminal.

    ``outer`` is the batch's own bar (``pipeline.progress.progress_bar``): when it is showing, the clip's
    line is added to it (one live display at a time); otherwise the clip gets a bar of its own.
    """
    if not console.is_terminal:
        return None

    def factory(name: str):
        state = {"task": None, "phase": None, "start": 0.0, "own": None}
        bar = getattr(outer, "progress", None)

        def progress(phase: str, done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

                bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                               TextColumn("frames {task.fields[rate]}"), console=console, transient=True)
                bar.start()
                state["own"] = bar
            if state["phase"] != phase:
                if state["task"] is not None:
                    bar.remove_task(state["task"])
                state["task"] = bar.add_task(f"  {name}: {PHASES.get(phase, phase)}", total=total, rate="")
                state["phase"], state["start"] = phase, time.monotonic()
            elapsed = time.monotonic() - state["start"]
            rate = f"{done / elapsed:.1f} fps" if elapsed > 0 and done else ""
            bar.update(state["task"], completed=done, total=max(total, done), rate=rate)
            if phase == "rendering" and done >= total:
                bar.remove_task(state["task"])
                state["task"], state["phase"] = None, None
                if state["own"] is not None:
                    state["own"].stop()
                    state["own"], bar = None, None

        return progress

    return factory
