"""Write a released clip: H.264 MP4 from pixels, with faststart, and nothing but pictures and sound.

The output is built fresh: a new H.264 stream encoded from the (redacted) frames at the source's
time stamps (so its frame rate, variable or not, and its duration are the source's), and the
source's sound copied packet by packet (or re-encoded to AAC when MP4 cannot carry it). No
container, stream or chapter metadata is copied: no location (©xyz), dates, make, model,
software, title, user data or chapter names. ``fflags=+bitexact`` stops FFmpeg writing its own
"encoder" tag, and the ``filter_units`` bitstream filter removes x264's SEI message (its version
and settings) from the picture stream. :func:`check_clean` re-reads the file and refuses it if any
tag is left.
"""
from __future__ import annotations

import os
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

COPY_AUDIO = {"aac", "mp3", "alac", "opus", "ac3", "eac3"}   # what an MP4 carries as it is
# Stream tags FFmpeg itself always reports for an MP4 track; nothing about the clip or its maker.
ALLOWED_STREAM_TAGS = {"language", "handler_name", "vendor_id"}


class UnsafeClip(RuntimeError):
    """An encoded clip still carries metadata (a bug, never expected)."""


def even(n: float) -> int:
    return max(2, int(round(n / 2.0)) * 2)


def output_size(width: int, height: int, max_edge: int) -> tuple[int, int]:
    """The released size: longest edge at most ``max_edge`` (never upscaled), even on both sides."""
    scale = min(1.0, max_edge / max(width, height))
    return even(width * scale), even(height * scale)


class ClipWriter:
    """One output MP4 written to a hidden temporary file beside ``dest``; ``commit`` renames it into place."""

    def __init__(self, dest: Path, size: tuple[int, int], frame_rate: Fraction, time_base: Fraction,
                 audio_stream=None, *, crf: int = 23, preset: str = "veryfast", mode: int = 0o644):
        import av

        self.dest = Path(dest)
        self.mode = mode
        fd, tmp = tempfile.mkstemp(prefix=f".{self.dest.name}.", suffix=".tmp", dir=self.dest.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        self.size = size
        self.out = av.open(str(self.tmp), mode="w", format="mp4",
                           options={"movflags": "+faststart", "fflags": "+bitexact"})
        self.out.metadata.clear() if hasattr(self.out.metadata, "clear") else None
        v = self.out.add_stream("libx264", rate=frame_rate, options={"crf": str(crf), "preset": preset})
        v.width, v.height = size
        v.pix_fmt = "yuv420p"
        v.time_base = time_base
        v.codec_context.time_base = time_base
        v.codec_context.flags |= av.codec.context.Flags.bitexact if hasattr(av.codec.context, "Flags") else 0
        self.video = v
        self._bsf = av.bitstream.BitStreamFilterContext("filter_units=remove_types=6", v)
        self.audio = None
        self._audio_copy = False
        if audio_stream is not None:
            name = audio_stream.codec_context.name
            if name in COPY_AUDIO:
                self.audio = self.out.add_stream_from_template(audio_stream)
                self._audio_copy = True
            else:
                rate = audio_stream.codec_context.sample_rate or 48000
                self.audio = self.out.add_stream("aac", rate=rate)
                self._audio_decoder = audio_stream.codec_context
            self.audio.metadata.clear() if hasattr(self.audio.metadata, "clear") else None
        self.video.metadata.clear() if hasattr(self.video.metadata, "clear") else None
        self._last_pts = None
        self._n = 0
        self._frame_tb = time_base
        self._step = max(1, int(round(1 / (float(frame_rate) * float(time_base))))) if frame_rate else 1

    def write(self, rgb: np.ndarray, pts: int | None) -> None:
        """Encode one upright RGB frame (already at the output size) at source time stamp ``pts``."""
        import av

        if pts is None or (self._last_pts is not None and pts <= self._last_pts):
            pts = (self._last_pts + self._step) if self._last_pts is not None else 0
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = pts
        frame.time_base = self._frame_tb
        self._last_pts = pts
        for packet in self.video.encode(frame):
            self._mux_video(packet)
        self._n += 1

    def _mux_video(self, packet) -> None:
        for p in self._bsf.filter(packet):
            p.stream = self.video
            self.out.mux(p)

    def write_audio(self, packet) -> None:
        """Copy (or re-encode) one packet of the source's sound."""
        import av

        if self.audio is None:
            return
        if self._audio_copy:
            copy = av.Packet(bytes(packet))
            copy.pts, copy.dts, copy.time_base = packet.pts, packet.dts, packet.time_base
            copy.is_keyframe = packet.is_keyframe
            copy.stream = self.audio
            self.out.mux(copy)
            return
        for frame in self._audio_decoder.decode(packet):
            frame.pts = None
            for p in self.audio.encode(frame):
                self.out.mux(p)

    def close(self) -> None:
        for packet in self.video.encode(None):
            self._mux_video(packet)
        for p in self._bsf.filter(None):
            p.stream = self.video
            self.out.mux(p)
        if self.audio is not None and not self._audio_copy:
            for p in self.audio.encode(None):
                self.out.mux(p)
        self.out.close()

    def commit(self) -> None:
        """Check the file carries no metadata, make it durable and rename it over ``dest`` in one step."""
        check_clean(self.tmp)
        with open(self.tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(self.tmp, self.mode)
        os.replace(self.tmp, self.dest)
        from processors.output import fsync_dir

        fsync_dir(self.dest.parent)

    def abort(self) -> None:
        try:
            self.out.close()
        except Exception:
            pass
        try:
            self.tmp.unlink()
        except FileNotFoundError:
            pass


def check_clean(path: Path) -> None:
    """Raise :class:`UnsafeClip` unless the MP4 has no container tags, no chapters and no stream
    tags beyond language and handler name."""
    import av

    with av.open(str(path), metadata_errors="ignore") as c:
        leftover = {k: v for k, v in c.metadata.items() if k not in ("major_brand", "minor_version", "compatible_brands")}
        if leftover:
            raise UnsafeClip(f"the output still carries container tags {sorted(leftover)}")
        if c.chapters():
            raise UnsafeClip("the output still carries chapters")
        for s in c.streams:
            extra = {k for k in s.metadata if k not in ALLOWED_STREAM_TAGS}
            if extra:
                raise UnsafeClip(f"the output's {s.type} track still carries tags {sorted(extra)}")
            if s.type not in ("video", "audio"):
                raise UnsafeClip(f"the output carries a {s.type} track")
