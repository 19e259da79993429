"""IPTC-IIM: read from Photoshop "8BIM" image resource blocks or raw IIM blocks."""
from __future__ import annotations

from processors.metadata.base import MetadataReport, _Parts, _put, _text, _unique


# IIM record 2 datasets -> text name
_IIM_TEXTS = {120: "iptc:Caption", 105: "iptc:Headline", 25: "iptc:Keywords", 80: "iptc:ByLine",
              116: "iptc:CopyrightNotice", 5: "iptc:ObjectName", 122: "iptc:Writer",
              40: "iptc:SpecialInstructions", 110: "iptc:Credit"}


def _parse_irb(blob: bytes):
    """Photoshop image resource blocks -> (resource id, data)."""
    pos, n = 0, len(blob)
    while pos + 12 <= n:
        if blob[pos:pos + 4] not in (b"8BIM", b"PHUT", b"AgHg", b"DCSR", b"MeSa"):
            break
        rid = int.from_bytes(blob[pos + 4:pos + 6], "big")
        name_len = blob[pos + 6]
        p = pos + 6 + ((1 + name_len + 1) & ~1)
        size = int.from_bytes(blob[p:p + 4], "big")
        p += 4
        yield rid, blob[p:p + size]
        pos = p + size + (size & 1)


def _parse_iim(blob: bytes):
    """IPTC-IIM -> (record, dataset, data)."""
    pos, n = 0, len(blob)
    while pos + 5 <= n and blob[pos] == 0x1C:
        record, dataset = blob[pos + 1], blob[pos + 2]
        size = int.from_bytes(blob[pos + 3:pos + 5], "big")
        pos += 5
        if size & 0x8000:  # extended length
            width = size & 0x7FFF
            size = int.from_bytes(blob[pos:pos + width], "big")
            pos += width
        yield record, dataset, blob[pos:pos + size]
        pos += size


def _read_iptc(parts: _Parts, report: MetadataReport, dates: list[str]) -> None:
    iim_blocks = list(parts.iim)
    for irb in parts.irb:
        for rid, body in _parse_irb(irb):
            if rid == 0x0404:
                iim_blocks.append(body)
            elif rid in (0x0409, 0x040C):
                parts.flags.add("thumbnail")
            elif rid == 0x0422:
                parts.add_exif(body)
            elif rid == 0x0424:
                parts.add_xmp(body)
            elif rid == 0x040F:
                parts.flags.add("icc_profile")
    for blob in iim_blocks:
        datasets = list(_parse_iim(blob))
        if not datasets:
            continue
        parts.flags.add("iptc")
        utf8 = any(r == 1 and d == 90 and v.startswith(b"\x1b%G") for r, d, v in datasets)
        values: dict[str, list[str]] = {}
        for record, dataset, raw in datasets:
            if record != 2:
                continue
            text = raw.decode("utf-8", errors="replace") if utf8 else _text(raw)
            text = text.strip("\x00").strip()
            if not text:
                continue
            if dataset == 55:
                dates.append(text)
            name = _IIM_TEXTS.get(dataset)
            if name:
                values.setdefault(name, []).append(text)
                if dataset == 80:
                    parts.flags.add("owner")
        for name, items in values.items():
            _put(report.texts, name, ", ".join(_unique(items)))
