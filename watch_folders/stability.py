"""When is a dropped file complete?

A file is *stable* once its size, modification time and inode have not changed
across our own observations for ``stable_seconds`` (we never trust the mtime's
age alone: copies often preserve the source's old mtime, and network shares
update it late). A stable file must also *decode*: a photo that stops growing
for a moment while a slow phone or share is still writing it is truncated. A
file that is stable but does not decode gets ``settle_seconds`` (longer) before
it is handed over anyway; the processor then rejects it with its reason
(empty, truncated, not an image).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass
class _Seen:
    sig: tuple
    since: float            # monotonic time the current signature was first seen
    incomplete: bool = False  # stable, but did not decode: wait settle_seconds


class StabilityTracker:
    """Remembers what each path looked like, and since when."""

    def __init__(self, stable_seconds: float, settle_seconds: float | None = None):
        self.stable_seconds = max(0.0, float(stable_seconds))
        self.settle_seconds = settle_seconds if settle_seconds is not None else settle_for(self.stable_seconds)
        self._seen: dict[Path, _Seen] = {}

    def observe(self, path: Path, sig: tuple, now: float) -> None:
        seen = self._seen.get(path)
        if seen is None or seen.sig != sig:
            self._seen[path] = _Seen(sig, now)

    def keep_only(self, paths) -> None:
        """Forget paths that are gone (moved, deleted, renamed)."""
        keep = set(paths)
        for path in [p for p in self._seen if p not in keep]:
            del self._seen[path]

    def forget(self, path: Path) -> None:
        self._seen.pop(path, None)

    def stable_for(self, path: Path, now: float) -> float:
        seen = self._seen.get(path)
        return -1.0 if seen is None else now - seen.since

    def needed(self, path: Path, *, long: bool = False) -> float:
        seen = self._seen.get(path)
        if long or (seen is not None and seen.incomplete):
            return self.settle_seconds
        return self.stable_seconds

    def is_stable(self, path: Path, now: float, *, long: bool = False) -> bool:
        """Unchanged for stable_seconds (settle_seconds when ``long`` or marked incomplete).

        A path seen only once is never stable: it needs two observations.
        """
        seen = self._seen.get(path)
        if seen is None:
            return False
        return now - seen.since >= self.needed(path, long=long) and now > seen.since

    def is_settled(self, path: Path, now: float) -> bool:
        return self.stable_for(path, now) >= self.settle_seconds

    def is_incomplete(self, path: Path) -> bool:
        seen = self._seen.get(path)
        return bool(seen and seen.incomplete)

    def mark_incomplete(self, path: Path, sig: tuple | None = None) -> None:
        seen = self._seen.get(path)
        if seen is not None and (sig is None or seen.sig == sig):
            seen.incomplete = True

    def wait_hint(self, path: Path, now: float, *, long: bool = False) -> float:
        """Seconds until ``path`` could become stable (0 when it already is)."""
        seen = self._seen.get(path)
        if seen is None:
            return self.stable_seconds
        return max(0.0, self.needed(path, long=long) - (now - seen.since))


def settle_for(stable_seconds: float) -> float:
    """How long a stable but undecodable (or lone caption) file waits before it is handed over."""
    return max(1.0, 3.0 * stable_seconds)


_HEIF_READY = False


def _register_heif() -> None:
    global _HEIF_READY
    if not _HEIF_READY:
        try:
            import pillow_heif

            pillow_heif.register_heif_opener()
        except ImportError:  # pragma: no cover - pillow-heif is a dependency
            pass
        _HEIF_READY = True


CHECKED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "HEIF")  # what the processor accepts


def decode_problem(path: Path, *, max_bytes: int | None = None, max_pixels: int | None = None) -> str | None:
    """None when the file decodes completely as an image, else why not (a short phrase).

    JPEGs are decoded at 1/8 scale (fast, and still reads every byte of the
    compressed data, so truncation is found). Files the processor rejects anyway
    (too large, too many pixels, a format it does not accept) are not decoded:
    they count as complete. Reads the file; never writes.
    """
    from PIL import Image, UnidentifiedImageError

    _register_heif()
    try:
        size = os.path.getsize(path)
        if size == 0:
            return "empty file"
        if max_bytes is not None and size > max_bytes:
            return None
        with open(path, "rb") as fh:
            head = fh.read(4096)
        from processors.video.probe import clip_problem, is_clip

        if is_clip(head):
            return clip_problem(path)
        with Image.open(path) as im:
            if im.format not in CHECKED_FORMATS:
                return None
            if max_pixels is not None and im.width * im.height > max_pixels:
                return None
            fmt = im.format
            if fmt in ("JPEG", "MPO"):
                im.draft("RGB", (max(1, im.width // 8), max(1, im.height // 8)))
            im.load()
        # Pillow fills a truncated image with grey when anything in the process has set
        # ImageFile.LOAD_TRUNCATED_IMAGES; the processor's strict checks do not depend on it.
        if fmt in ("JPEG", "MPO", "PNG"):
            from processors.decode import png_verify, strict_jpeg_check

            data = Path(path).read_bytes()
            (png_verify if fmt == "PNG" else strict_jpeg_check)(data)
    except UnidentifiedImageError:
        return "not a recognised image"
    except Image.DecompressionBombError:
        return None  # complete as far as we can tell; the processor rejects it by its limits
    except FileNotFoundError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        return f"does not decode ({exc})"
    return None
