"""Render a clip's released channels (H.264 MP4 + poster JPEG + caption) and a held clip's review
frames, with every face that is not kept on the channel redacted on every frame.

Channels that redact the same tracks share one encoding (copied to each channel's folder). Every
file is written under a hidden temporary name and renamed into place complete.
"""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from processors.output import atomic_path, encode_jpeg, write_atomic
from processors.redact import redact
from processors.text.redact import outline_polygons, redact_polygons
from processors.video.encode import ClipWriter, output_size
from processors.video.frames import read_clip
from processors.video.tracking import redaction_plan


class RenderFailed(RuntimeError):
    """The clip could not be rendered again exactly as analysed (nothing was released)."""


def hold_frames(rate: float) -> tuple[int, int]:
    """(hold, lead): frames a box stays after a face's last detection, and before its first one."""
    return max(5, int(round(0.4 * rate))), max(3, int(round(0.2 * rate)))


def plan_for(analysis) -> dict:
    hold, lead = hold_frames(float(analysis.info.frame_rate) or 25.0)
    return redaction_plan(analysis.tracks, hold=hold, lead=lead, frames=analysis.frames)


def redacted_tracks(faces: list[dict], channel: str | None) -> frozenset[int]:
    """Tracks to redact on ``channel`` (every track not kept on all channels when ``channel`` is None)."""
    if channel is None:
        return frozenset(i for i, f in enumerate(faces) if any(d != "keep" for d in f["decisions"].values()))
    return frozenset(i for i, f in enumerate(faces) if f["decisions"].get(channel) != "keep")


def _scaled(box, sx: float, sy: float):
    import math

    top, right, bottom, left = box
    return (math.floor(top * sy), math.ceil(right * sx), math.ceil(bottom * sy), math.floor(left * sx))


def redact_frame(rgb: np.ndarray, boxes: list, config) -> np.ndarray:
    if not boxes:
        return rgb
    red = config["redaction"]
    return np.asarray(redact(Image.fromarray(rgb), boxes, style=red["style"], padding=red["padding"]))


def render_clip(ws, source: Path, analysis, channels: list[str], stem: str, captions: dict[str, str],
                existing: dict[str, str] | None = None, progress=None) -> tuple[dict, dict]:
    """Write ``approved/<channel>/<stem>.mp4`` (+ ``.jpg`` poster, ``.txt`` caption) for each channel.
    Returns ``(outputs, sha256s)``: workspace-relative paths of the clips and their content hashes."""
    import cv2

    config = ws.config
    info = analysis.info
    size = output_size(info.width, info.height, int(config["output"]["max_edge"]))
    sx, sy = size[0] / info.width, size[1] / info.height
    plan = plan_for(analysis)
    groups: dict[frozenset, list[str]] = {}
    for ch in channels:
        groups.setdefault(redacted_tracks(analysis.faces, ch), []).append(ch)
    dests = {ch: ws.root / ((existing or {}).get(ch) or f"approved/{ch}/{stem}.mp4") for ch in channels}
    for d in dests.values():
        d.parent.mkdir(parents=True, exist_ok=True)
    keep_audio = config["video"]["audio"] == "keep" and info.audio_codec is not None
    writers: dict[frozenset, ClipWriter] = {}
    seen = 0
    try:
        for kind, item in read_clip(source, info, audio=keep_audio, announce_audio=True):
            if kind == "audio_stream":
                for key, chs in groups.items():
                    writers[key] = ClipWriter(dests[chs[0]], size, info.frame_rate, info.time_base, item)
                continue
            if kind == "audio":
                for w in writers.values():
                    w.write_audio(item)
                continue
            frame = item
            if analysis.poster is None and frame.index == analysis.poster_index:
                analysis.poster = reduced(frame.rgb, int(config["output"]["max_edge"]))
            if frame.index >= analysis.frames:
                raise RenderFailed("the clip has more frames than when it was checked")
            pixels = frame.rgb if size == (info.width, info.height) else cv2.resize(
                frame.rgb, size, interpolation=cv2.INTER_AREA)
            here = plan.get(frame.index, [])
            for key, w in writers.items():
                boxes = [_scaled(b, sx, sy) for tid, b in here if tid in key]
                w.write(redact_frame(pixels, boxes, config), frame.pts)
            seen += 1
            if progress is not None:
                progress(seen, analysis.frames)
        if seen != analysis.frames:
            raise RenderFailed(f"{seen} frames decoded, {analysis.frames} when it was checked")
        for w in writers.values():
            w.close()
        outputs, shas = {}, {}
        for key, chs in groups.items():
            w = writers[key]
            w.commit()
            digest = _sha256(w.dest)
            poster = poster_jpeg(analysis, key, config)
            for ch in chs:
                if dests[ch] != w.dest:
                    _copy_atomic(w.dest, dests[ch])
                write_atomic(dests[ch].with_suffix(".jpg"), poster)
                _write_caption(dests[ch].with_suffix(".txt"), captions.get(ch, ""))
                outputs[ch] = ws.rel(dests[ch])
                shas[ch] = digest
        return outputs, shas
    except BaseException:
        for w in writers.values():
            w.abort()
        raise


def reduced(rgb: np.ndarray, edge: int = 1280) -> np.ndarray:
    """A copy of a frame whose long edge is at most ``edge`` (kept frames: poster, frames in question)."""
    import cv2

    h, w = rgb.shape[:2]
    scale = min(1.0, edge / max(h, w))
    if scale >= 1.0:
        return rgb.copy()
    return cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def poster_jpeg(analysis, redact_ids: frozenset, config) -> bytes:
    """The poster frame with the tracks in ``redact_ids`` redacted, as a pixels-only JPEG."""
    frame = analysis.poster
    if frame is None:
        raise RenderFailed("the poster frame could not be decoded")
    boxes = _boxes_on(analysis, analysis.poster_index, frame, lambda tid: tid in redact_ids)
    out = config["output"]
    return encode_jpeg(Image.fromarray(redact_frame(frame, boxes, config)), max_edge=out["max_edge"],
                       quality=out["jpeg_quality"])


def _boxes_on(analysis, index: int, frame: np.ndarray, which) -> list:
    plan = plan_for(analysis)
    s = frame.shape[1] / analysis.info.width
    return [_scaled(b, s, s) for tid, b in plan.get(index, []) if which(tid)]


def text_frame_jpeg(analysis, not_kept: set, config) -> bytes | None:
    """A clip held for a name in the picture: the first frame kept where a recorded region shows, every
    face not kept everywhere and every such region redacted, the regions outlined. None otherwise."""
    shown = sorted({t["frame"] for t in analysis.texts if t.get("frame") in analysis.text_frames})
    if not shown:
        return None
    index = shown[0]
    frame = analysis.text_frames[index]
    s = frame.shape[1] / analysis.info.width
    image = Image.fromarray(redact_frame(frame, _boxes_on(analysis, index, frame, lambda t: t in not_kept), config))
    polygons = [[[x * s, y * s] for x, y in t["polygon"]] for t in analysis.texts if t["frame"] == index]
    image = outline_polygons(redact_polygons(image, polygons, style=config["redaction"]["style"]), polygons)
    return encode_jpeg(image, max_edge=1600, quality=85)


def render_review(ws, analysis, job_id: int) -> str:
    """A held clip's private review frames: ``review/<job>.jpg`` (the poster, or the first frame where a
    name is legible with its regions redacted and outlined; every face not kept everywhere redacted) and ``review/<job>_track<n>_frame<f>.jpg`` for each track in question: the
    frame where it was in question, that face alone left visible (outlined) for the reviewer."""
    config = ws.config
    not_kept = redacted_tracks(analysis.faces, None)
    preview = text_frame_jpeg(analysis, not_kept, config) or poster_jpeg(analysis, not_kept, config)
    rel = f"review/{job_id}.jpg"
    write_atomic(ws.root / rel, preview, mode=0o600)
    for tid, (index, frame) in sorted(analysis.questions.items()):
        if tid >= len(analysis.faces) or "review" not in analysis.faces[tid]["decisions"].values():
            continue  # only the faces a person has to decide
        boxes = _boxes_on(analysis, index, frame, lambda t: t in not_kept and t != tid)
        image = Image.fromarray(redact_frame(frame, boxes, config))
        s = frame.shape[1] / analysis.info.width
        box = analysis.tracks[tid].boxes.get(index)
        if box is not None:
            top, right, bottom, left = _scaled(box, s, s)
            ImageDraw.Draw(image).rectangle((left, top, right, bottom), outline=(255, 200, 0), width=3)
        data = encode_jpeg(image, max_edge=1600, quality=85)
        write_atomic(ws.root / f"review/{job_id}_track{tid + 1}_frame{index}.jpg", data, mode=0o600)
    return rel


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _copy_atomic(src: Path, dest: Path) -> None:
    with atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)


def _write_caption(path: Path, caption: str) -> None:
    if caption:
        write_atomic(path, (caption + "\n").encode("utf-8"))
    elif path.exists():
        path.unlink()
