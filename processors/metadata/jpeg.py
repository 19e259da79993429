"""JPEG: walk the segments (APP0 JFIF/JFXX, APP1 EXIF and XMP, APP2 ICC, APP13 Photoshop, COM) up to the
first scan, then look for EXIF blocks of further pictures (MPO files, trailers)."""
from __future__ import annotations

import re

from processors.metadata.base import MAX_PACKETS, _Parts, _text

_APP1_EXIF = re.compile(rb"\xff\xe1(..)Exif\x00", re.S)


def _walk_jpeg(data: bytes, parts: _Parts) -> None:
    photoshop: list[bytes] = []
    pos, n = 2, len(data)
    while pos + 4 <= n:
        if parts.out_of_time():
            break
        if data[pos] != 0xFF:
            nxt = data.find(b"\xff", pos)
            if nxt < 0:
                break
            pos = nxt
            continue
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan: the header is over
            break
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if length < 2:
            parts.problems.append("The JPEG header is damaged.")
            break
        seg = data[pos + 4:pos + 2 + length]
        if marker == 0xE0 and seg.startswith(b"JFIF\x00") and len(seg) >= 14 and seg[12] * seg[13] > 0:
            parts.flags.add("thumbnail")
        elif marker == 0xE0 and seg.startswith(b"JFXX\x00"):
            parts.flags.add("thumbnail")
        elif marker == 0xE1 and seg.startswith(b"Exif\x00"):
            parts.add_exif(seg)
        elif marker == 0xE1 and seg.startswith(b"http://ns.adobe.com/xap/1.0/\x00"):
            parts.add_xmp(seg[29:])
        elif marker == 0xE1 and seg.startswith(b"http://ns.adobe.com/xmp/extension/\x00"):
            parts.flags.add("xmp")  # extended XMP: pieces of a packet, too big for one segment
        elif marker == 0xE2 and seg.startswith(b"ICC_PROFILE\x00"):
            parts.flags.add("icc_profile")
        elif marker == 0xED and seg.startswith(b"Photoshop 3.0\x00"):
            if parts.add_text(len(seg)):  # IPTC lives here: within the text budget
                photoshop.append(seg[14:])
        elif marker == 0xFE:
            parts.flags.add("comment")
            text = _text(seg).strip()
            if text and parts.add_text(len(seg)):
                parts.comments.append(text)
        pos += 2 + length
    if photoshop:
        parts.irb.append(b"".join(photoshop))
    # EXIF blocks of further pictures in the same file (multi-picture MPO files, trailers).
    # A marker cannot occur inside entropy-coded data (0xFF is always stuffed there).
    for m in _APP1_EXIF.finditer(data, pos):
        if len(parts.exif) >= MAX_PACKETS or parts.out_of_time():
            break
        length = int.from_bytes(m.group(1), "big")
        start = m.start() + 4
        parts.add_exif(data[start:start + length - 2])
