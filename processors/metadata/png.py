"""PNG: walk the chunks (eXIf, iCCP, tEXt, zTXt, iTXt incl. ImageMagick's raw profiles and XMP)."""
from __future__ import annotations

import re
import zlib

from processors.metadata.base import MAX_TEXT_BYTES, _Parts

def _walk_png(data: bytes, parts: _Parts) -> None:
    pos, n = 8, len(data)
    while pos + 12 <= n:
        length = int.from_bytes(data[pos:pos + 4], "big")
        ctype = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if ctype == b"IEND":
            break
        try:
            if ctype == b"eXIf":
                parts.add_exif(body)
            elif ctype == b"iCCP":
                parts.flags.add("icc_profile")
            elif ctype == b"tEXt":
                key, _, value = body.partition(b"\x00")
                _png_text(key.decode("latin-1"), value.decode("latin-1"), parts)
            elif ctype == b"zTXt":
                key, _, rest = body.partition(b"\x00")
                _png_text(key.decode("latin-1"), _inflate(rest[1:]).decode("latin-1"), parts)
            elif ctype == b"iTXt":
                key, _, rest = body.partition(b"\x00")
                compressed, _method = rest[0], rest[1]
                _lang, _, rest = rest[2:].partition(b"\x00")
                _tkey, _, value = rest.partition(b"\x00")
                if compressed:
                    value = _inflate(value)
                _png_text(key.decode("latin-1"), value.decode("utf-8", errors="replace"), parts)
        except Exception:
            parts.problems.append(f"A PNG {ctype.decode('latin-1', 'replace')} chunk is damaged.")
        pos += 12 + length


def _inflate(raw: bytes) -> bytes:
    return zlib.decompressobj().decompress(raw, MAX_TEXT_BYTES)


def _png_text(key: str, value: str, parts: _Parts) -> None:
    if key == "XML:com.adobe.xmp":
        parts.add_xmp(value.encode("utf-8"))
        return
    if key.lower().startswith("raw profile type "):
        kind = key[17:].strip().lower()
        blob = _imagemagick_profile(value)
        if kind in ("exif", "app1"):
            parts.add_exif(blob)
        elif kind == "xmp":
            parts.add_xmp(blob)
        elif kind in ("iptc", "8bim"):
            if blob.startswith(b"8BIM"):
                parts.irb.append(blob)
            else:
                parts.iim.append(blob)
        elif kind == "icc" or kind == "icm":
            parts.flags.add("icc_profile")
        return
    parts.flags.add("comment")
    if key.lower() in ("author", "artist"):
        parts.flags.add("owner")
    value = value.strip("\x00").strip()
    if value:
        parts.png_texts.append((key, value))


def _imagemagick_profile(value: str) -> bytes:
    """ImageMagick's "Raw profile type X" text: newline, name, length, then hex digits."""
    lines = value.strip().split("\n", 2)
    hexdigits = re.sub(r"\s+", "", lines[2] if len(lines) == 3 else "")
    return bytes.fromhex(hexdigits[: len(hexdigits) // 2 * 2])
