"""WebP: walk the RIFF chunks (EXIF, XMP, ICCP)."""
from __future__ import annotations

from processors.metadata.base import _Parts

def _walk_webp(data: bytes, parts: _Parts) -> None:
    pos, n = 12, len(data)
    while pos + 8 <= n:
        fourcc = data[pos:pos + 4]
        size = int.from_bytes(data[pos + 4:pos + 8], "little")
        body = data[pos + 8:pos + 8 + size]
        if fourcc == b"EXIF":
            parts.add_exif(body)
        elif fourcc == b"XMP ":
            parts.add_xmp(body)
        elif fourcc == b"ICCP":
            parts.flags.add("icc_profile")
        pos += 8 + size + (size & 1)
