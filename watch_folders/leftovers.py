"""Remove temporary files that a killed process left behind in the workspace's output folders.

Every output is written as a hidden temporary file (``.<name>.<random>.tmp``,
see ``processors.output.write_atomic``) and renamed into place, so a process
killed mid-write leaves such a temporary file, never a partial output. The
watcher removes them at start, once no earlier watcher's worker is running.
A temporary file is only removed when its writer is certainly gone: no process
has it open (Linux ``/proc``) and it has not been written for ``quiet`` seconds
(a writer closes the file only to rename it a moment later),
or, where open files cannot be listed, it is older than ``min_age`` seconds.
So a concurrent ``pipeline process`` or review decision in the middle of a
write is never disturbed.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

FOLDERS = ("originals", "quarantine", "review")


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and (name.endswith(".tmp") or ".tmp-" in name)


def open_files() -> set[str] | None:
    """Paths of files open in any process we may inspect, or None when the system cannot tell us."""
    proc = Path("/proc")
    if not (proc / "self" / "fd").is_dir():
        return None
    found: set[str] = set()
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        fd_dir = proc / pid / "fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                found.add(os.readlink(fd_dir / fd))
            except OSError:
                continue
    return found


def candidate_temp_files(root: Path) -> list[Path]:
    root = Path(root)
    folders = [root / f for f in FOLDERS]
    approved = root / "approved"
    try:
        folders += [approved / d for d in sorted(os.listdir(approved)) if (approved / d).is_dir()]
    except OSError:
        pass
    found = []
    for folder in folders:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        found.extend(folder / n for n in names if is_temp_name(n))
    return found


def remove_stale_temp_files(root: Path, *, quiet: float = 1.0, min_age: float = 120.0) -> list[Path]:
    candidates = candidate_temp_files(root)
    if not candidates:
        return []
    in_use = open_files()
    now = time.time()
    removed = []
    for path in candidates:
        try:
            age = now - os.lstat(path).st_mtime
            if in_use is None:
                stale = age > min_age
            else:
                stale = age > quiet and os.path.realpath(path) not in in_use
            if stale:
                os.unlink(path)
                removed.append(path)
        except OSError:
            continue
    return removed
