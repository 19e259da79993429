"""Remove temporary files that a killed process left behind in the workspace's output folders.

Every output is written as a hidden temporary file (``.<name>.<random>.tmp``,
see ``processors.output.write_atomic``) and renamed into place, so a process
killed mid-write leaves such a temporary file, never a partial output. The
watcher removes them at start, once no earlier watcher's worker is running;
only files older than ``min_age`` seconds, so a concurrent ``pipeline process``
or review decision in the middle of a write is never disturbed.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

FOLDERS = ("originals", "quarantine", "review")


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and (name.endswith(".tmp") or ".tmp-" in name)


def remove_stale_temp_files(root: Path, *, min_age: float = 120.0) -> list[Path]:
    root = Path(root)
    folders = [root / f for f in FOLDERS]
    approved = root / "approved"
    try:
        folders += [approved / d for d in os.listdir(approved) if (approved / d).is_dir()]
    except OSError:
        pass
    cutoff = time.time() - min_age
    removed = []
    for folder in folders:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if not is_temp_name(name):
                continue
            path = folder / name
            try:
                st = os.lstat(path)
                if st.st_mtime < cutoff:
                    os.unlink(path)
                    removed.append(path)
            except OSError:
                continue
    return removed
