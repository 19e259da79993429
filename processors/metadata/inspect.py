"""`inspect_metadata`: choose the container's walker, then read IPTC, EXIF and XMP into one report."""
from __future__ import annotations

from processors.metadata.base import FOUND_TAGS, MetadataReport, _Parts, _put, _sound_date, _unique
from processors.metadata.captions import embedded_caption
from processors.metadata.exif import _read_exif
from processors.metadata.heif import _walk_heif
from processors.metadata.iptc import _read_iptc
from processors.metadata.jpeg import _walk_jpeg
from processors.metadata.png import _walk_png
from processors.metadata.webp import _walk_webp
from processors.metadata.xmp import _find_xmp_in_bytes, _read_xmp

def _container(data: bytes) -> str:
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":
        return "HEIF"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    return "other"


# --------------------------------------------------------------------------- public API

def inspect_metadata(data: bytes, name: str = "") -> MetadataReport:
    """Report what metadata ``data`` (the bytes of an image file) carries. Never raises."""
    report = MetadataReport()
    try:
        _inspect(data, report)
    except Exception:  # belt and braces: a report is always returned
        report.problems.append("The metadata could not be read completely.")
    report.problems = _unique(report.problems)
    return report


def _inspect(data: bytes, report: MetadataReport) -> None:
    parts = _Parts()
    kind = _container(data)
    walkers = {"JPEG": _walk_jpeg, "PNG": _walk_png, "WEBP": _walk_webp, "HEIF": _walk_heif}
    if kind in walkers:
        try:
            walkers[kind](data, parts)
        except Exception:
            parts.problems.append("The file's structure is damaged; some metadata may be unreadable.")
    try:
        _find_xmp_in_bytes(data, parts)
    except Exception:
        pass

    dates: list[str] = []
    names: list[str] = []
    for step in (lambda: _read_iptc(parts, report, dates),
                 lambda: _read_exif(parts, report, dates, data, kind),
                 lambda: _read_xmp(parts, report, names, dates)):
        if parts.out_of_time():
            break
        try:
            step()
        except Exception:
            parts.problems.append("Some metadata could not be read.")

    if parts.comments:
        _put(report.texts, "comment", "\n".join(_unique(parts.comments)))
    for key, value in parts.png_texts:
        _put(report.texts, f"png:{key}", value)

    report.person_names = _unique(names)
    if report.person_names:
        parts.flags.add("xmp_person_names")
    for candidate in dates:
        sound = _sound_date(candidate)
        if sound:
            report.taken_date = sound
            parts.flags.add("date_taken")
            break
    if embedded_caption(report):
        parts.flags.add("caption")
    if "metadata_not_read" in parts.flags:
        over = parts.xmp_budget.over + parts.exif_budget.over + parts.text_budget.over
        size = f" ({parts.unread_bytes / 1e6:,.1f} MB in {parts.unread_blocks} block(s))" if parts.unread_bytes else ""
        parts.problems.append(f"Some embedded metadata was not read{size}: " + "; ".join(_unique(over) or
                              ["more than the reading budget"]) + ".")
    report.found = sorted(f for f in parts.flags if f in FOUND_TAGS)
    report.problems.extend(parts.problems)
