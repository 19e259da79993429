"""Render released channels and review previews: redact, resize, encode fresh, write atomically.

Used by first processing, by review decisions and by consent withdrawals (which re-render
existing outputs in place, under the same name).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from PIL import Image

import math

from processors.output import encode_jpeg, resized, write_atomic, write_atomic_as
from processors.redact import redact
from processors.text.redact import outline_polygons, redact_polygons, redacted_texts


def redacted_boxes(faces: list[dict], channel: str | None) -> list:
    """Boxes to redact: every face not kept on ``channel`` (on every channel when ``channel`` is None)."""
    if channel is None:
        return [f["box"] for f in faces if any(d != "keep" for d in f["decisions"].values())]
    return [f["box"] for f in faces if f["decisions"].get(channel) != "keep"]


def scale_box(box, scale: float) -> tuple[int, int, int, int]:
    """A face box in the coordinates of a resized image, rounded outwards (never smaller)."""
    top, right, bottom, left = box
    if scale == 1:
        return (int(top), int(right), int(bottom), int(left))
    return (math.floor(top * scale), math.ceil(right * scale), math.ceil(bottom * scale), math.floor(left * scale))


def render_channels(ws, image: Image.Image, faces: list[dict], channels: list[str], stem: str,
                    captions: dict[str, str], existing: dict[str, str] | None = None, *,
                    texts: list[dict] | None) -> tuple[dict, dict]:
    """Write ``approved/<channel>/<stem>.jpg`` (+ ``.txt`` caption) for each channel.

    Channels that redact the same faces share one redaction and one encoding.
    Returns ``(outputs, sha256s)``: workspace-relative paths and content hashes per channel.
    ``texts``: the text regions read in the picture (polygons in ``image``'s coordinates); required,
    so that no re-render can forget them (``pipeline.text_in_picture.stored_texts(job)``).
    """
    return write_channels(ws, encode_channels(ws.config, image, faces, channels, texts=texts), stem, captions,
                          existing)


def encode_channels(config, image: Image.Image, faces: list[dict], channels: list[str], *,
                    texts: list[dict] | None) -> dict[str, bytes]:
    """Each channel's released JPEG, in memory; touches no file (so it can run on a worker).

    Channels that redact the same faces and text regions share one redaction and one encoding.
    """
    red = config["redaction"]
    out_cfg = config["output"]
    encoded: dict[tuple, bytes] = {}
    per_channel: dict[str, bytes] = {}
    for channel in channels:
        boxes = redacted_boxes(faces, channel)
        polygons = redacted_texts(texts, faces, channel)
        key = (tuple(sorted(tuple(b) for b in boxes)), tuple(sorted(repr(p) for p in polygons)))
        if key not in encoded:
            pixels = redact(image, boxes, style=red["style"], padding=red["padding"]) if boxes else image
            if polygons:
                pixels = redact_polygons(pixels, polygons, style=red["style"])
            encoded[key] = encode_jpeg(pixels, max_edge=out_cfg["max_edge"], quality=out_cfg["jpeg_quality"])
        per_channel[channel] = encoded[key]
    return per_channel


def write_channels(ws, per_channel: dict[str, bytes], stem: str, captions: dict[str, str],
                   existing: dict[str, str] | None = None) -> tuple[dict, dict]:
    """Write each channel's JPEG (from ``encode_channels``) and caption atomically; returns
    ``(outputs, sha256s)`` like ``render_channels``."""
    outputs, shas = {}, {}
    written: dict[int, Path] = {}  # channels sharing one encoding share one file (see write_atomic_as)
    for channel, data in per_channel.items():
        rel = (existing or {}).get(channel) or f"approved/{channel}/{stem}.jpg"
        dest = ws.root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        caption_file = dest.with_suffix(".txt")
        caption = captions.get(channel, "")
        if caption:
            write_atomic(caption_file, (caption + "\n").encode("utf-8"))
        elif caption_file.exists():
            caption_file.unlink()
        write_atomic_as(dest, data, written.get(id(data)))
        written.setdefault(id(data), dest)
        outputs[channel] = rel
        shas[channel] = hashlib.sha256(data).hexdigest()
    return outputs, shas


def render_preview(ws, image: Image.Image, faces: list[dict], job_id: int, *,
                   texts: list[dict] | None) -> str:
    """A redacted preview for the review queue: every face not kept everywhere is redacted."""
    return write_preview(ws, encode_preview(ws.config, image, faces, texts=texts), job_id)


def encode_preview(config, image: Image.Image, faces: list[dict], *, texts: list[dict] | None) -> bytes:
    """The review preview's JPEG, in memory: every face and text region not kept everywhere
    redacted, and every region of text that was read outlined (so the reviewer sees what was read)."""
    red = config["redaction"]
    pixels = redact(image, redacted_boxes(faces, None), style=red["style"], padding=red["padding"])
    polygons = redacted_texts(texts, faces, None)
    if polygons:
        pixels = redact_polygons(pixels, polygons, style=red["style"])
    if texts:
        pixels = outline_polygons(pixels, [t["polygon"] for t in texts])
    return encode_jpeg(pixels, max_edge=1600, quality=85)


def write_preview(ws, data: bytes, job_id: int) -> str:
    rel = f"review/{job_id}.jpg"
    write_atomic(ws.root / rel, data, mode=0o600)
    return rel


def remove_preview(ws, job_id: int) -> None:
    path: Path = ws.root / f"review/{job_id}.jpg"
    if path.exists():
        path.unlink()
    for frame in (ws.root / "review").glob(f"{job_id}_track*_frame*.jpg"):  # a held clip's frames in question
        frame.unlink(missing_ok=True)
