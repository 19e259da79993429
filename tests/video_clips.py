"""Short test clips made from still photos: a pan, a zoom, a person turning, a cut between scenes,
a rotated phone clip, sound, and QuickTime metadata written by independent tools (ffmpeg, exiftool).

Clips are small (a few seconds, <= 640 px) so the tests stay fast; each frame's labelled faces are
known exactly (the photo's face boxes moved by the same camera motion).
"""
from __future__ import annotations

import math
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image


def load(path: Path, max_edge: int = 1200) -> np.ndarray:
    with Image.open(path) as im:
        im = im.convert("RGB")
        scale = min(1.0, max_edge / max(im.size))
        if scale < 1:
            im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
        return np.asarray(im)


def crop_resize(img: np.ndarray, x: float, y: float, w: float, h: float, size: tuple[int, int]) -> np.ndarray:
    """The window (x, y, w, h) of ``img`` scaled to ``size`` (width, height)."""
    import cv2

    m = np.array([[size[0] / w, 0, -x * size[0] / w], [0, size[1] / h, -y * size[1] / h]], dtype=np.float64)
    return cv2.warpAffine(img, m, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)


def pan_windows(shape, seconds: float, fps: int, size=(640, 360)) -> list[tuple[float, float, float, float]]:
    """The crop window (x, y, w, h) of each frame of ``pan``."""
    h, w = shape[:2]
    wh = 0.7 * h
    ww = min(wh * size[0] / size[1], w)
    wh = ww * size[1] / size[0]
    n = int(seconds * fps)
    return [((i / max(1, n - 1)) * (w - ww), (h - wh) / 2, ww, wh) for i in range(n)]


def pan(img: np.ndarray, seconds: float, fps: int, size=(640, 360)):
    """The camera sweeps left to right across the photo, window 70% of the photo's height."""
    for x, y, ww, wh in pan_windows(img.shape, seconds, fps, size):
        yield crop_resize(img, x, y, ww, wh, size)


def window_box(box, window, size, scale: float = 1.0):
    """A photo box (top, left, width, height; photo scaled by ``scale``) in the frame of ``window``:
    ``(top, right, bottom, left)``."""
    x, y, ww, wh = window
    sx, sy = size[0] / ww, size[1] / wh
    top, left = box["top"] * scale, box["left"] * scale
    bottom, right = top + box["height"] * scale, left + box["width"] * scale
    return ((top - y) * sy, (right - x) * sx, (bottom - y) * sy, (left - x) * sx)


def zoom(img: np.ndarray, seconds: float, fps: int, size=(640, 360), centre=None, end=0.45):
    """The camera zooms in towards ``centre`` (x, y), from the whole photo to ``end`` of it."""
    h, w = img.shape[:2]
    cx, cy = centre or (w / 2, h / 2)
    n = int(seconds * fps)
    aspect = size[0] / size[1]
    for i in range(n):
        t = i / max(1, n - 1)
        f = 1 - (1 - end) * t
        wh = min(h, w / aspect) * f
        ww = wh * aspect
        x = min(max(0, cx - ww / 2), w - ww)
        y = min(max(0, cy - wh / 2), h - wh)
        yield crop_resize(img, x, y, ww, wh, size)


def turning(img: np.ndarray, seconds: float, fps: int, size=(480, 480), max_angle=35.0):
    """The picture rolls from -max_angle to +max_angle and back (a head tilting), drifting sideways."""
    import cv2

    h, w = img.shape[:2]
    n = int(seconds * fps)
    base = crop_resize(img, 0, 0, w, h, (size[0], round(size[0] * h / w)))
    bh, bw = base.shape[:2]
    for i in range(n):
        t = i / max(1, n - 1)
        angle = max_angle * math.sin(2 * math.pi * t)
        m = cv2.getRotationMatrix2D((bw / 2, bh / 2), angle, 0.9)
        m[0, 2] += (t - 0.5) * 40 + (size[0] - bw) / 2
        m[1, 2] += (size[1] - bh) / 2
        yield cv2.warpAffine(base, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def cut(first, second):
    """Scene A, then scene B: two frame sources one after the other."""
    yield from first
    yield from second


def write_clip(path: Path, frames, *, fps: int = 25, codec: str = "libx264", audio: bool = False,
               vfr: bool = False) -> Path:
    """Encode ``frames`` (RGB arrays) into ``path`` (.mp4/.mov/.m4v by its name) with PyAV; with
    ``audio`` a 440 Hz AAC tone; with ``vfr`` alternating 1/fps and 2/fps frame durations."""
    import av

    fmt = {".mov": "mov", ".m4v": "mp4", ".mp4": "mp4"}[path.suffix.lower()]
    out = av.open(str(path), "w", format=fmt)
    tb = Fraction(1, fps * 2)
    v = None
    pts = 0
    a = None
    sample = 0
    for i, rgb in enumerate(frames):
        if v is None:
            v = out.add_stream(codec, rate=fps)
            v.height, v.width = rgb.shape[:2]
            v.pix_fmt = "yuv420p"
            v.time_base = tb
            v.codec_context.time_base = tb
            if codec == "libx264":
                v.options = {"preset": "ultrafast", "crf": "18"}
            elif codec == "libx265":
                v.options = {"preset": "ultrafast", "crf": "20", "x265-params": "log-level=none"}
            if audio:
                a = out.add_stream("aac", rate=44100)
                a.layout = "mono"
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = pts
        frame.time_base = tb
        pts += 2 if not vfr else (2 if i % 2 == 0 else 4)
        for p in v.encode(frame):
            out.mux(p)
        if a is not None:
            until = int(pts * float(tb) * 44100)
            while sample + 1024 <= until:
                t = (np.arange(sample, sample + 1024) / 44100.0)
                tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32).reshape(1, -1)
                af = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
                af.sample_rate = 44100
                af.pts = sample
                af.time_base = Fraction(1, 44100)
                for p in a.encode(af):
                    out.mux(p)
                sample += 1024
    for p in v.encode(None):
        out.mux(p)
    if a is not None:
        for p in a.encode(None):
            out.mux(p)
    out.close()
    return path


def ffmpeg() -> str | None:
    return shutil.which("ffmpeg")


def add_quicktime_metadata(src: Path, dest: Path, *, title: str, location: str = "+51.5072-000.1276/",
                           when: str = "2026-06-12T10:30:00Z") -> Path:
    """Copy ``src`` to ``dest`` (a .mov) adding, with Debian's ffmpeg: a ©xyz location, a title,
    a creation date, a comment, chapter names; then with exiftool: make, model, software, GPS keys."""
    meta = dest.with_suffix(".ffmeta")
    meta.write_text(
        ";FFMETADATA1\n"
        f"title={title}\nlocation={location}\ncomment=filmed by {title}\nartist={title}\n"
        "[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\nlocation=Playground\ntitle=" + title + " runs\n"
        "[CHAPTER]\nTIMEBASE=1/1000\nSTART=1000\nEND=2000\ntitle=Prize giving\n", encoding="utf-8")
    subprocess.run([ffmpeg(), "-v", "error", "-y", "-i", str(src), "-i", str(meta), "-map", "0",
                    "-map_metadata", "1", "-map_chapters", "1", "-c", "copy",
                    "-metadata", f"creation_time={when}", "-metadata", f"location={location}",
                    "-metadata:s:v:0", f"title={title} camera", "-metadata:s:v:0", f"creation_time={when}",
                    "-f", "mov", str(dest)], check=True)
    meta.unlink()
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-api", "QuickTimeUTC",
                    "-Keys:Make=Apple", "-Keys:Model=iPhone 15 Pro", "-Keys:Software=17.5.1",
                    f"-Keys:GPSCoordinates=51.5072 N, 0.1276 W", f"-Keys:CreationDate={when}",
                    f"-Keys:Title={title}", f"-UserData:Make=Apple", f"-UserData:Model=iPhone 15 Pro",
                    str(dest)], check=True, capture_output=True)
    return dest


def set_rotation(path: Path, degrees: int) -> Path:
    """Write the display matrix (QuickTime Rotation) with exiftool, as a phone held upright does."""
    subprocess.run(["exiftool", "-q", "-overwrite_original", f"-Rotation={degrees}", str(path)],
                   check=True, capture_output=True)
    return path
