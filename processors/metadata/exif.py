"""EXIF (TIFF-structured) blocks, decoded with exifread: GPS, thumbnail, maker notes, serials, owner, texts."""
from __future__ import annotations

import io
import logging

from processors.metadata.base import MetadataReport, _Parts, _put, _text

# exifread logs every oddity of a damaged file as a warning; the report carries them instead.
logging.getLogger("exifread").setLevel(logging.CRITICAL)

_EXIF_TEXTS = {"Image ImageDescription": "exif:ImageDescription", "Image Artist": "exif:Artist",
               "Image Copyright": "exif:Copyright", "EXIF CameraOwnerName": "exif:CameraOwnerName",
               "MakerNote OwnerName": "exif:OwnerName"}
_XP_TAGS = {"Image XPComment": "exif:XPComment", "Image XPTitle": "exif:XPTitle",
            "Image XPSubject": "exif:XPSubject", "Image XPKeywords": "exif:XPKeywords",
            "Image XPAuthor": "exif:XPAuthor"}


def _exifread(blob: bytes) -> dict:
    import exifread

    return exifread.process_file(io.BytesIO(blob), details=True, extract_thumbnail=True)


def _read_exif(parts: _Parts, report: MetadataReport, dates: list[str], raw: bytes, kind: str) -> None:
    tag_sets = []
    # Containers we cannot walk (or whose walk found nothing, e.g. a HEIF pillow-heif could not
    # open): let exifread look for EXIF in the whole file.
    blobs = parts.exif if parts.exif else ([raw] if kind in ("TIFF", "HEIF", "other") else [])
    for blob in blobs:
        try:
            tags = _exifread(blob)
        except Exception:
            tags = {}
            parts.problems.append("The EXIF block is damaged and could not be read completely.")
        if tags:
            tag_sets.append(tags)
            parts.flags.add("exif")
        elif blob is not raw:
            parts.problems.append("The EXIF block is damaged and could not be read.")
    for tags in tag_sets:
        for key, tag in tags.items():
            try:
                _exif_tag(key, tag, parts, report, dates)
            except Exception:
                continue


def _exif_tag(key: str, tag, parts: _Parts, report: MetadataReport, dates: list[str]) -> None:
    if key in ("JPEGThumbnail", "TIFFThumbnail") or key.startswith("Thumbnail JPEGInterchangeFormat"):
        parts.flags.add("thumbnail")
        return
    if key.startswith("GPS ") and key != "GPS GPSVersionID":
        parts.flags.add("gps")
    if key.startswith("MakerNote ") or key == "EXIF MakerNote":
        parts.flags.add("maker_notes")
    if "SerialNumber" in key and _tag_str(tag):
        parts.flags.add("camera_serial")
    if key in ("EXIF CameraOwnerName", "MakerNote OwnerName", "Image Artist") and _tag_str(tag):
        parts.flags.add("owner")
    if key == "EXIF DateTimeOriginal":
        dates.insert(0, _tag_str(tag))
    if key in _EXIF_TEXTS:
        value = _tag_str(tag).replace("\x00", " / ") if key == "Image Copyright" else _tag_str(tag)
        _put(report.texts, _EXIF_TEXTS[key], value)
    elif key in _XP_TAGS:
        _put(report.texts, _XP_TAGS[key], _ucs2(tag.values))
    elif key == "EXIF UserComment":
        _put(report.texts, "exif:UserComment", _user_comment(tag.values))


def _tag_str(tag) -> str:
    values = getattr(tag, "values", tag)
    if isinstance(values, bytes):
        values = _text(values)
    if isinstance(values, str):
        return values.strip("\x00").strip()
    printable = getattr(tag, "printable", "")
    return str(printable).strip("\x00").strip()


def _as_bytes(values) -> bytes:
    if isinstance(values, (bytes, bytearray)):
        return bytes(values)
    if isinstance(values, str):
        return values.encode("latin-1", errors="replace")
    return bytes(int(v) & 0xFF for v in values)


def _ucs2(values) -> str:
    raw = _as_bytes(values)
    return raw.decode("utf-16-le", errors="replace").rstrip("\x00").strip()


def _user_comment(values) -> str:
    raw = _as_bytes(values)
    code, body = raw[:8], raw[8:]
    if code.startswith(b"UNICODE"):
        # Byte order is not specified; plain text in UTF-16 has zero high bytes for Latin text.
        le = body[1::2].count(0) >= body[0::2].count(0)
        text = body.decode("utf-16-le" if le else "utf-16-be", errors="replace")
    elif code.startswith(b"JIS"):
        text = body.decode("shift_jis", errors="replace")
    elif code.startswith(b"ASCII") or code == b"\x00" * 8:
        text = _text(body)
    else:  # no valid code: the whole field is the text
        text = _text(raw)
    return text.strip("\x00").strip()
