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
    if stem.suffix and stem.exists() and not stem.is_dir():
        return True
    return any(p != path and p.is_file() for p in path.parent.glob(_glob_escape(stem.name) + ".*")
               if p.suffix.lower() != ".txt")


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in name)


def collect_inputs(paths: list[Path]) -> list[Path]:
    """Files under ``paths`` (folders recursively), sorted, sidecars excluded.

    Symlinked folders are not followed but listed as inputs of their own, so they are rejected
    with a reason rather than skipped silently; so is a folder that cannot be listed.
    """
    found: list[Path] = []
    for p in paths:
        if p.is_dir() and not p.is_symlink():
            unlisted: list[Path] = []
            for root, dirs, files in os.walk(p, onerror=lambda exc: unlisted.append(Path(exc.filename))):
                links = [d for d in dirs if os.path.islink(os.path.join(root, d))]
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in links)
                for f in sorted(files + links):
                    found.append(Path(root) / f)
            found.extend(unlisted)
        else:
            found.append(p)
    return [f for f in found if not is_ignored(f) and not is_sidecar(f)]


def root_for(path: Path, given: list[Path]) -> Path:
    """The folder the user named that holds ``path`` (no link may lie between them); for a file
    named directly, its own folder."""
    best = None
    for g in given:
        if g.is_dir() and not g.is_symlink():
            try:
                Path(path).relative_to(g)
            except ValueError:
                continue
            if best is None or len(str(g)) > len(str(best)):
                best = g
    return best if best is not None else Path(os.path.dirname(os.path.abspath(path)))


def largest_first(paths: list[Path]) -> list[Path]:
    """``paths`` most work first (ties keep their order): with several workers the long photos
    start early and the short ones fill in at the end, so the cores finish together.

    The work is estimated from the pixel count in each photo's header (a 1,480×832 photo stored
    in 150 kB costs more than a 500×375 one of 200 kB; ordering by file size started it last
    on the 16 fixture photos and one core waited 0.3 s for it). Clips come first (they are
    the longest work of all); anything whose header cannot be read goes by its file size,
    counted as pixels at about three bytes each (it is usually rejected at once)."""
    from processors.decode import header_pixels
    from processors.video.probe import is_clip

    def work(p: Path) -> float:
        try:
            size = p.stat().st_size
        except OSError:
            return 0.0
        try:
            with open(p, "rb") as fh:
                if is_clip(fh.read(4096)):
                    return float("inf")
        except OSError:
            return 0.0
        pixels = header_pixels(p)
        return float(pixels) if pixels is not None else size / 3

    return sorted(paths, key=lambda p: -work(p))
