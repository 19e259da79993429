"""File names as people and the database see them.

Names dropped into the inbox can hold anything a file system allows: newlines,
control characters, odd Unicode, bytes that are not UTF-8, 255-byte lengths.
The real path is always kept for file operations; these helpers give the forms
that are safe to store, log and reuse as part of a new file name.
"""
from __future__ import annotations

import os
import unicodedata
from pathlib import Path

NAME_MAX = 255  # bytes, ext4/xfs/btrfs and most network shares


def text(value: str | os.PathLike) -> str:
    """A str that encodes to UTF-8: bytes that were not UTF-8 are shown escaped (``caf\\xe9.jpg``,
    issue 16), so two names that differ only there stay apart in the records."""
    raw = os.fsencode(value)
    return raw.decode("utf-8", errors="backslashreplace")


def for_log(value: str | os.PathLike) -> str:
    """One printable line: control characters (newline, tab, escape …) shown as \\n, \\t, \\x1b."""
    out = []
    for ch in text(value):
        if ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def safe_component(name: str | os.PathLike, *, prefix: str = "", reserve: int = 0) -> str:
    """A single file-name component derived from ``name``.

    No path separators, no control characters, not hidden, and short enough that
    ``prefix + result`` plus ``reserve`` more bytes (e.g. ``.reason.txt``) fit in
    NAME_MAX bytes. The extension is kept when the name has to be shortened.
    """
    cleaned = []
    for ch in unicodedata.normalize("NFC", text(os.path.basename(os.fspath(name)) or "unnamed")):
        if ch in "/\\" or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs") or ch == "\ufffd":
            cleaned.append("_")
        else:
            cleaned.append(ch)
    result = "".join(cleaned).strip() or "unnamed"
    if result.startswith("."):
        result = "_" + result[1:]
    budget = NAME_MAX - len(prefix.encode()) - reserve
    if len(result.encode()) <= budget:
        return result
    stem, ext = os.path.splitext(result)
    if len(ext.encode()) > 16:
        stem, ext = result, ""
    keep = budget - len(ext.encode()) - 1  # room for the "…" marker below (as "~")
    cut = stem.encode()[:max(keep, 1)].decode("utf-8", errors="ignore")
    return f"{cut}~{ext}"


def relative(root: Path, path: Path) -> str:
    """``path`` relative to ``root`` as stored text (``inbox/anna/IMG_1.jpg``)."""
    try:
        rel = os.path.relpath(path, root)
    except ValueError:
        rel = os.fspath(path)
    return text(rel)
