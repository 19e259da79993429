"""File names are bytes until shown: a display form that is valid UTF-8, printable and one line.

A name that is not UTF-8 (``caf\\xe9.jpg``, from an old Windows or Mac share) keeps its bytes
visible as ``\\xe9``; control characters (newline, escape …) are shown escaped. The display form is
what records, logs, reports and the database hold; the real name is only ever used to open the file.
"""
from __future__ import annotations

import os
import unicodedata

NAME_MAX = 255  # bytes per name on ext4/xfs/btrfs and most network shares
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def display(value: str | bytes | os.PathLike) -> str:
    """``value`` (a path or name, str with surrogate escapes or bytes) as safe, printable UTF-8 text."""
    raw = value if isinstance(value, bytes) else os.fsencode(value)
    text = raw.decode("utf-8", errors="backslashreplace")
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn") and ch not in "\u200d":
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def fits_name_max(name: str | bytes, extra: int = 0) -> bool:
    """True when ``name`` plus ``extra`` more bytes still fits in one file-name component."""
    raw = name if isinstance(name, bytes) else os.fsencode(name)
    return len(raw) + extra <= NAME_MAX
