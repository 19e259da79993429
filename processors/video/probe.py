"""Recognise a phone clip and check it before any frame is decoded (PyAV, FFmpeg inside its wheel).

Accepted: an MP4 / MOV / M4V container (the ISO/QuickTime family, as iPhones and Android phones
record), one H.264 or HEVC video stream, at most ``max_seconds`` long, at most ``max_pixels`` per
frame. Everything else raises :class:`RejectedClip` with a plain sentence. Rotation comes from the
display matrix (what phones write instead of turning the pixels), so a portrait clip filmed on a
phone held upright is treated as portrait.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

# ftyp brands of the MP4/MOV/M4V family that phones and cameras write.
VIDEO_BRANDS = {"qt  ", "isom", "iso2", "iso4", "iso5", "iso6", "mp41", "mp42", "m4v ", "M4V ", "M4VH", "M4VP",
                "avc1", "hvc1", "3gp4", "3gp5", "3gp6", "3g2a", "MSNV", "XAVC", "mmp4"}
# QuickTime files from older cameras may start with one of these atoms instead of ftyp.
QUICKTIME_FIRST_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip"}
ACCEPTED_CONTAINERS = {"mov", "mp4", "m4a", "3gp", "3g2", "mj2"}   # FFmpeg's "mov,mp4,m4a,3gp,3g2,mj2" demuxer
ACCEPTED_CODECS = {"h264": "H.264", "hevc": "HEVC"}


class RejectedClip(Exception):
    """The clip cannot be processed; ``reason`` is a plain sentence for a school admin."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ClipInfo:
    width: int             # upright (rotation applied), in pixels
    height: int
    rotation: int          # clockwise degrees the stored frames are turned to be shown upright (0/90/180/270)
    codec: str             # "h264" | "hevc"
    duration: float        # seconds
    frame_rate: Fraction   # average frame rate (the source may be variable)
    frames: int            # frames expected (from the stream header, else duration x rate)
    time_base: Fraction
    audio_codec: str | None  # the first audio stream's codec, None when silent
    container: str

    @property
    def coded_size(self) -> tuple[int, int]:
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)


def looks_like_clip(head: bytes) -> bool:
    """True when the first bytes are those of an MP4/MOV/M4V file (the content decides, not the name)."""
    if len(head) < 12:
        return False
    if head[4:8] == b"ftyp":
        brands = {head[8:12].decode("latin-1")}
        size = int.from_bytes(head[0:4], "big")
        for i in range(16, min(size, len(head)) - 3, 4):
            brands.add(head[i:i + 4].decode("latin-1"))
        heif = {"heic", "heix", "heim", "heis", "mif1", "msf1", "avif", "avis"}
        return bool(brands & VIDEO_BRANDS) and head[8:12].decode("latin-1") not in heif
    return head[4:8] in QUICKTIME_FIRST_ATOMS


def display_rotation(stream, first_frame=None) -> int:
    """Clockwise degrees to turn the stored frames so they show upright (from the display matrix)."""
    angle = None
    if first_frame is not None:
        try:
            angle = first_frame.rotation   # FFmpeg: counter-clockwise degrees
        except Exception:
            angle = None
    if angle is None:
        try:
            angle = float(stream.metadata.get("rotate", 0)) * -1
        except (TypeError, ValueError):
            angle = 0
    degrees = int(round(-float(angle or 0) / 90.0)) * 90 % 360
    return degrees


def probe_clip(path: Path | str, *, max_seconds: float, max_pixels: int) -> ClipInfo:
    """Open and check a clip (headers and its first frame). Raises :class:`RejectedClip`."""
    import av

    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except av.error.InvalidDataError:
        raise RejectedClip("The clip is damaged or incomplete (its index could not be read) — "
                           "copy it again from the phone.") from None
    except (av.error.FFmpegError, OSError) as exc:
        raise RejectedClip(f"The clip could not be opened ({_short(exc)}) — copy it again from the phone.") from None
    try:
        return _check(container, max_seconds, max_pixels)
    finally:
        container.close()


def _check(container, max_seconds: float, max_pixels: int) -> ClipInfo:
    import av

    fmt = set((container.format.name or "").split(","))
    if not fmt & ACCEPTED_CONTAINERS:
        raise RejectedClip(f"This kind of video is not accepted ({container.format.long_name}); "
                           "save it as MP4 or MOV and try again.")
    videos = [s for s in container.streams.video if not (s.disposition & av.stream.Disposition.attached_pic)]
    if not videos:
        raise RejectedClip("This file has no picture (it looks like a sound recording); only video clips and photos are accepted.")
    if len(videos) > 1:
        raise RejectedClip("This clip has more than one video track; export it again as a plain MP4 or MOV.")
    stream = videos[0]
    codec = stream.codec_context.name
    if codec not in ACCEPTED_CODECS:
        raise RejectedClip(f"This clip is encoded as {codec.upper()}; only H.264 or HEVC clips (as phones record them) "
                           "are accepted — export it again as an MP4 (H.264).")
    duration = _duration(container, stream)
    if duration is None or duration <= 0:
        raise RejectedClip("The clip is damaged or incomplete (it has no length) — copy it again from the phone.")
    if duration > max_seconds + 0.5:
        raise RejectedClip(f"The clip is {_clock(duration)} long; the limit is {_clock(max_seconds)} "
                           "([video] max_seconds). Trim it and drop it again.")
    w, h = stream.codec_context.width, stream.codec_context.height
    if not w or not h:
        raise RejectedClip("The clip is damaged or incomplete (it has no picture size) — copy it again from the phone.")
    if w * h > max_pixels:
        raise RejectedClip(f"The clip's frames are too large ({w}x{h}; the limit is {max_pixels / 1e6:g} megapixels, "
                           "[limits] max_megapixels). Export a smaller copy and try again.")
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate or rate <= 0:
        raise RejectedClip("The clip is damaged or incomplete (it has no frame rate) — copy it again from the phone.")
    first = _first_frame(container, stream)
    rotation = display_rotation(stream, first)
    frames = int(stream.frames or 0) or max(1, round(duration * float(rate)))
    audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
    width, height = (h, w) if rotation in (90, 270) else (w, h)
    return ClipInfo(width, height, rotation, codec, float(duration), Fraction(rate), frames,
                    Fraction(stream.time_base), audio, container.format.name)


def _first_frame(container, stream):
    import av

    try:
        for frame in container.decode(stream):
            return frame
    except (av.error.FFmpegError, ValueError) as exc:
        raise RejectedClip(f"The clip is damaged or incomplete ({_short(exc)}) — copy it again from the phone.") from None
    raise RejectedClip("The clip is damaged or incomplete (no frame could be decoded) — copy it again from the phone.")


def _duration(container, stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return None


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.split(": '", 1)[0][:120]


def is_clip(data: bytes) -> bool:
    """True for the bytes of an MP4/MOV/M4V clip (never for a HEIC photo, which shares the ftyp box)."""
    from processors.decode import sniff

    if not looks_like_clip(data[:64]):
        return False
    kind, _ = sniff(data[:4096])
    return kind not in ("HEIF", "image", "JPEG", "PNG", "WEBP")


def clip_problem(path: Path | str) -> str | None:
    """None when the clip's index opens and its first frame decodes (a clip still being copied
    usually has no index yet), else why not (a short phrase). Reads the file; never writes."""
    import av

    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as c:
            videos = list(c.streams.video)
            if not videos:
                return None  # not a clip we accept: the processor rejects it with its reason
            for _ in c.decode(videos[0]):
                return None
            return "no frame decodes yet"
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        return f"the clip does not open yet ({_short(exc)})"
