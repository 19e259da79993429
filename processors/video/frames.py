"""Decode a clip's frames one at a time, upright (display matrix applied), as RGB arrays.

Frames stream: only the frame in hand is held, so memory stays flat however long the clip.
``read_clip`` can also hand over the audio packets, interleaved, for copying into an output.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from processors.video.probe import ClipInfo, RejectedClip

DAMAGED = "The clip is damaged or incomplete ({detail}) — copy it again from the phone."


@dataclass
class Frame:
    index: int          # 0, 1, 2 … in presentation order
    pts: int | None     # presentation time stamp, in the video stream's time base
    time: float         # seconds from the start of the clip
    rgb: np.ndarray     # H x W x 3 uint8, upright


def upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """Turn stored pixels clockwise by ``rotation`` degrees (0/90/180/270)."""
    k = (rotation // 90) % 4
    return rgb if k == 0 else np.ascontiguousarray(np.rot90(rgb, k=-k))


def read_clip(path: Path | str, info: ClipInfo, *, audio: bool = False,
              announce_audio: bool = False) -> Iterator[tuple[str, object]]:
    """Yield ``("video", Frame)`` for every frame and, when ``audio``, ``("audio", packet)`` for every
    packet of the first audio stream, in file order. With ``announce_audio`` the first item is
    ``("audio_stream", stream or None)`` (to set up an output). Raises :class:`RejectedClip` on a
    decoding error."""
    import av

    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, OSError) as exc:
        raise RejectedClip(DAMAGED.format(detail=_short(exc))) from None
    try:
        video = [s for s in container.streams.video
                 if not (s.disposition & av.stream.Disposition.attached_pic)][0]
        video.thread_type = "AUTO"
        streams = [video]
        if audio and container.streams.audio:
            streams.append(container.streams.audio[0])
        if announce_audio:
            yield "audio_stream", (streams[1] if len(streams) > 1 else None)
        tb = video.time_base
        start = video.start_time or 0
        index = 0
        last_pts = None
        for packet in container.demux(*streams):
            if packet.stream.type == "audio":
                if packet.size:
                    yield "audio", packet
                continue
            for frame in packet.decode():
                if getattr(frame, "is_corrupt", False):
                    raise RejectedClip(DAMAGED.format(detail=f"frame {index + 1} is corrupt"))
                pts = frame.pts
                if pts is not None and last_pts is not None and pts <= last_pts:
                    pts = None  # a repeated time stamp: the frame still counts, timed after the last one
                time = float((pts - start) * tb) if pts is not None else (
                    (index / float(info.frame_rate)) if info.frame_rate else 0.0)
                # (C-contiguous: a frame whose rows are padded (widths such as 360, 500, 1080) comes out
                # as a strided view, which dlib's face chips refuse.)
                rgb = np.ascontiguousarray(upright(frame.to_ndarray(format="rgb24"), info.rotation))
                yield "video", Frame(index, pts, time, rgb)
                if pts is not None:
                    last_pts = pts
                index += 1
    except RejectedClip:
        raise
    except (av.error.FFmpegError, ValueError, IndexError) as exc:
        raise RejectedClip(DAMAGED.format(detail=_short(exc))) from None
    finally:
        container.close()


def frames(path: Path | str, info: ClipInfo) -> Iterator[Frame]:
    """Every frame of the clip, upright, in order."""
    for kind, item in read_clip(path, info, audio=False):
        if kind == "video":
            yield item


def _short(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__)[:120]
