"""PNG: walk the chunks (eXIf, iCCP, tEXt, zTXt, iTXt incl. ImageMagick's raw profiles and XMP)."""
from __future__ import annotations

import re
import zlib

from processors.metadata.base import MAX_TEXT_BYTES, _Parts

def _walk_png(data: bytes, parts: _Parts) -> None:
    pos, n = 8, len(data)
    while pos + 12 <= n:
        if parts.out_of_time():
            break
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
            elif ctype in (b"tEXt", b"zTXt", b"iTXt"):
                _text_chunk(ctype, body, parts)
        except Exception:
            parts.problems.append(f"A PNG {ctype.decode('latin-1', 'replace')} chunk is damaged.")
        pos += 12 + length


def _text_chunk(ctype: bytes, body: bytes, parts: _Parts) -> None:
    """One text chunk, within the file's text budget (XMP within the XMP budget): a PNG of a
    thousand 4 MB zTXt bombs costs no more than one."""
    key, _, rest = body.partition(b"\x00")
    xmp = key == b"XML:com.adobe.xmp"
    room = MAX_TEXT_BYTES if xmp else min(MAX_TEXT_BYTES, parts.text_room())
    if room <= 0:
        parts.add_text(len(body))  # over the budget: recorded as not read
        return
    if ctype == b"tEXt":
        value = rest[:room].decode("latin-1")
    elif ctype == b"zTXt":
        value = _inflate(rest[1:], room).decode("latin-1")
    else:
        compressed, _method = rest[0], rest[1]
        _lang, _, rest = rest[2:].partition(b"\x00")
        _tkey, _, raw = rest.partition(b"\x00")
        value = (_inflate(raw, room) if compressed else raw[:room]).decode("utf-8", errors="replace")
    if not xmp and not parts.add_text(len(value)):
        return
    _png_text(key.decode("latin-1"), value, parts)


def _inflate(raw: bytes, limit: int = MAX_TEXT_BYTES) -> bytes:
    return zlib.decompressobj().decompress(raw, limit)


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
