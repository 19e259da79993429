"""Redacted thumbnails for the HTML audit report: offending faces redacted and outlined.

The report may travel (it is meant to be read by people), so every face with a finding
is redacted with the workspace's redaction style before it is drawn, then outlined and
numbered like the findings list. Faces that are fine on every audited channel are
outlined thinly in green and left as they are.

Pixels are read again from the audited file (read-only) only for the files shown, at
thumbnail size: JPEGs are decoded scaled down by libjpeg (Pillow's draft mode), so a
report built from the cache stays fast. A file whose content changed since it was
audited gets no thumbnail.
"""
from __future__ import annotations

import hashlib
import os

from PIL import Image, ImageDraw, ImageFont

from pipeline.audit.run import FACE_KINDS
from pipeline.audit.files import read_bytes
from processors.output import encode_jpeg
from processors.redact import head_region, redact

EDGE = 360
COLOURS = {
    "face_never_publish": (150, 0, 40),
    "face_refused": (214, 40, 40),
    "face_withdrawn": (214, 40, 40),
    "face_expired": (214, 40, 40),
    "face_uncertain": (230, 140, 0),
    "face_unknown": (224, 138, 0),
}
KEPT = (40, 160, 70)


def worst_kind(face: dict) -> str | None:
    kinds = set(face.get("findings", {}).values())
    return next((k for k in FACE_KINDS if k in kinds), None)


def thumbnail_jpeg(record: dict, config, *, edge: int = EDGE) -> bytes | None:
    """A small redacted JPEG of an audited photo, or None when it cannot (or should not) be made."""
    if not record.get("checked") or not record.get("width") or not record.get("height"):
        return None
    limits = config["limits"]
    max_bytes = int(limits["max_file_mb"] * 1024 * 1024)
    try:
        real = os.fsdecode(bytes.fromhex(record["_fs"])) if record.get("_fs") else record["path"]
        data = read_bytes(real, max_bytes + 1)
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != record.get("sha256"):
        return None  # changed since it was audited: do not show pixels that were not checked
    try:
        image = _small_upright(data, record, edge, limits)
    except Exception:
        return None
    if image is None:
        return None
    scale = image.width / record["width"]
    boxes = {f["index"]: _scaled(f["box"], scale) for f in record.get("faces", [])}
    offending = [f for f in record.get("faces", []) if f.get("findings")]
    red = config["redaction"]
    if offending:
        image = redact(image, [boxes[f["index"]] for f in offending], style=red["style"], padding=red["padding"])
    _outline(image, record.get("faces", []), boxes, red["padding"])
    return encode_jpeg(image, max_edge=edge, quality=82)


def _scaled(box, scale: float) -> tuple[int, int, int, int]:
    return tuple(int(round(v * scale)) for v in box)


def _outline(image: Image.Image, faces: list[dict], boxes: dict, padding: float) -> None:
    draw = ImageDraw.Draw(image)
    font = _font(max(11, image.width // 28))
    for face in faces:
        kind = worst_kind(face)
        region = head_region(boxes[face["index"]], image.size, padding)
        if kind is None:
            draw.rectangle(region, outline=KEPT, width=1)
            continue
        colour = COLOURS[kind]
        draw.rectangle(region, outline=colour, width=3)
        label = str(face["index"] + 1)
        l, t = region[0], region[1]
        tb = draw.textbbox((0, 0), label, font=font)
        w, h = tb[2] - tb[0] + 6, tb[3] - tb[1] + 6
        draw.rectangle((l, t, l + w, t + h), fill=colour)
        draw.text((l + 3 - tb[0], t + 3 - tb[1]), label, fill=(255, 255, 255), font=font)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pragma: no cover - Pillow < 10.1
        return ImageFont.load_default()


def _small_upright(data: bytes, record: dict, edge: int, limits) -> Image.Image | None:
    """The photo at most ``edge`` pixels wide/high, upright exactly as the audit saw it."""
    if record.get("format") == "JPEG":
        small = _jpeg_draft(data, record, edge)
        if small is not None:
            return small
    image = _full_decode(data, record, limits)
    if image is None:
        return None
    image.thumbnail((edge, edge), Image.Resampling.LANCZOS)
    return image


def _jpeg_draft(data: bytes, record: dict, edge: int) -> Image.Image | None:
    import io

    from processors.decode import _apply_orientation, _orientation

    with Image.open(io.BytesIO(data), formats=["JPEG"]) as im:
        orientation = _orientation(im)
        w, h = im.size
        scale = edge / max(w, h)
        im.draft("RGB", (max(1, int(w * scale) + 1), max(1, int(h * scale) + 1)))
        rgb = im.convert("RGB")
    rgb = _apply_orientation(rgb, orientation)
    if abs(rgb.width / rgb.height - record["width"] / record["height"]) > 0.02:
        return None  # the orientation was read differently: use the full decoder instead
    rgb.thumbnail((edge, edge), Image.Resampling.LANCZOS)
    return rgb


def _full_decode(data: bytes, record: dict, limits) -> Image.Image | None:
    from processors.decode import RejectedImage, decode_image

    try:  # reduced on decoding (bounded memory): only a thumbnail is made from it
        image = decode_image(data, name="thumbnail", max_bytes=len(data) + 1,
                             max_pixels=int(limits["max_megapixels"] * 1_000_000), min_long_edge=EDGE).image
    except RejectedImage:
        from pipeline.audit.worker import decode_archive_format

        other = decode_archive_format(data, int(limits["max_megapixels"] * 1_000_000))
        image = other[0] if other else None
    if image is None or abs(image.width / image.height - record["width"] / record["height"]) > 0.02:
        return None  # not the picture the audit saw (turned differently)
    return image
