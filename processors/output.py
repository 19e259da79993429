"""Encode released images from pixels only, and write files atomically.

A released JPEG carries the pixels and the bare JFIF header that the JPEG
encoder writes (version, no resolution: aspect ratio 1:1). No EXIF, XMP, IPTC,
ICC profile (pixels are sRGB already, and sRGB is what every viewer assumes
without one), comment or thumbnail. ``encode_jpeg`` checks its own output and
refuses to return anything else.
"""
from __future__ import annotations

import contextlib
import io
import math
import os
import tempfile
from pathlib import Path

from PIL import Image


class UnsafeOutput(RuntimeError):
    """The encoder produced something other than a bare JPEG (a bug, never expected)."""


# A photo is decoded once, DCT-scaled to what the face detector needs (pipeline.analyse), and its
# released copies are made from that decode. Where the detector's size falls just short of
# ``max_edge`` (a 4032-px phone photo halves to 2016 px, against the default 2048), the release
# keeps that size instead of decoding the photo a second time at full size (12 megapixels for
# phone photos): at most this fraction of ``max_edge`` is given up, never more.
SOURCE_EDGE_SHARE = 0.95


def source_edge(max_edge: int) -> int:
    """The long edge a decode must keep so that releases are at least ``SOURCE_EDGE_SHARE`` of ``max_edge``."""
    return int(math.ceil(max_edge * SOURCE_EDGE_SHARE))


def resized(image: Image.Image, max_edge: int) -> Image.Image:
    """Scale so the longest edge is at most ``max_edge`` (LANCZOS); never upscale."""
    w, h = image.size
    longest = max(w, h)
    if max_edge <= 0 or longest <= max_edge:
        return image
    scale = max_edge / longest
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    # reducing_gap: a fast box reduction first, then LANCZOS for the last factor (same quality).
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def pixels_only(image: Image.Image) -> Image.Image:
    """A brand-new RGB image built from the pixel buffer alone: empty ``.info``, no EXIF cache."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    fresh = Image.frombytes("RGB", image.size, image.tobytes())
    fresh.info = {}
    return fresh


def encode_jpeg(image: Image.Image, *, max_edge: int, quality: int) -> bytes:
    """Resize (longest edge <= max_edge, never upscale) and encode a fresh baseline JPEG that
    carries pixels only. Raises :class:`UnsafeOutput` if the result contains any metadata segment."""
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"jpeg quality must be between 1 and 100, not {quality}")
    fresh = pixels_only(resized(image, max_edge))
    buf = io.BytesIO()
    fresh.save(buf, format="JPEG", quality=int(quality), optimize=True, progressive=False)
    data = buf.getvalue()
    check_pixels_only(data)
    return data


def check_pixels_only(data: bytes) -> None:
    """Raise :class:`UnsafeOutput` unless ``data`` is a JPEG whose only header segments are the
    coding tables and at most one plain JFIF APP0 without a thumbnail."""
    if not data.startswith(b"\xff\xd8"):
        raise UnsafeOutput("the output is not a JPEG")
    pos, n = 2, len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            raise UnsafeOutput("unexpected bytes in the JPEG header")
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: header done
            break
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        seg = data[pos + 4:pos + 2 + length]
        if marker == 0xE0:
            if not seg.startswith(b"JFIF\x00") or len(seg) < 14 or seg[12] or seg[13]:
                raise UnsafeOutput("unexpected APP0 segment")
        elif 0xE1 <= marker <= 0xEF or marker == 0xFE:
            raise UnsafeOutput(f"metadata segment 0xFF{marker:02X} in the output")
        pos += 2 + length
    else:
        raise UnsafeOutput("the JPEG has no image data")
    if data.find(b"\xff\xd8\xff", 2) >= 0:
        # A second start-of-image would be an embedded picture (thumbnail or MPO frame);
        # 0xFF 0xD8 cannot occur inside coded image data.
        raise UnsafeOutput("a second picture is embedded in the output")


@contextlib.contextmanager
def atomic_path(dest: Path, *, mode: int = 0o644):
    """A temporary path next to ``dest`` to write into; ``dest`` is then either absent/unchanged or
    complete.

    The temporary file is hidden (``.<name>.<random>.tmp``, so neither a person nor ``pull`` picks
    it up). When the block ends without error it is fsync'ed, gets ``mode`` and is renamed over
    ``dest`` in one step, then the folder itself is fsync'ed. On any error it is removed and the
    error is raised.
    """
    dest = Path(dest)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(dest.parent)


def write_atomic(dest: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``dest`` atomically (see :func:`atomic_path`)."""
    with atomic_path(dest, mode=mode) as tmp:
        tmp.write_bytes(data)


def write_new(folder: Path, name: str, data: bytes, *, mode: int = 0o644) -> Path:
    """Write ``data`` as a new file in ``folder`` called ``name`` — or ``stem (2).ext``, ``stem (3).ext``...
    when that name is taken — and return its path. Never over an existing file, even when two writers
    choose the same name at the same moment: the bytes are written and synced under a hidden name
    first, then given the visible one by a hard link, which fails rather than replace. (Where hard
    links are not possible, the name is claimed with an exclusive create, then filled by a rename.)"""
    folder = Path(folder)
    stem, suffix = Path(name).stem, Path(name).suffix
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        for n in range(1, 10_000):
            target = folder / (name if n == 1 else f"{stem} ({n}){suffix}")
            try:
                os.link(tmp, target)
                break
            except FileExistsError:
                continue
            except OSError:  # no hard links on this file system
                try:
                    os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode))
                except FileExistsError:
                    continue
                os.replace(tmp, target)
                break
        else:
            raise FileExistsError(f"no free name for {name} in {folder}")
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(folder)
    return target


def write_atomic_as(dest: Path, data: bytes, same_as: Path | None, *, mode: int = 0o644) -> None:
    """``write_atomic(dest, data)``, where ``same_as`` (if given) is a file just written with these very
    bytes and ``mode``: ``dest`` then becomes a second name (hard link) of that file instead of a
    second copy: no second write or file sync, one copy on disk. Each name stays independently
    replaceable: every writer here replaces a file by renaming a new one over it, never by writing
    into it, so re-rendering one channel leaves the other's bytes alone. Where links are not
    possible (another file system, a share without them) the bytes are written as usual."""
    dest = Path(dest)
    if same_as is not None:
        tmp = dest.parent / f".{dest.name}.{os.getpid()}.{id(data):x}.link.tmp"
        try:
            if Path(same_as).read_bytes() == data:  # (from the page cache) never link anything else
                os.link(same_as, tmp)
                os.replace(tmp, dest)
                fsync_dir(dest.parent)
                return
        except OSError:
            pass
        try:
            tmp.unlink()
        except OSError:
            pass
    write_atomic(dest, data, mode=mode)


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable. Best effort: the file is already complete, so a
    file system that cannot sync folders is not an error."""
    try:
        dfd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


__all__ = ["encode_jpeg", "source_edge", "atomic_path", "write_atomic", "write_atomic_as", "check_pixels_only", "pixels_only", "resized", "UnsafeOutput",
           "fsync_dir"]
