"""Decode a caption sidecar's bytes, or refuse it with a reason (never guess into a mangled caption).

Accepted: UTF-8 (with or without BOM), UTF-16 and UTF-32 with a BOM (what Notepad writes as
"Unicode"), and Windows-1252 (Notepad's "ANSI" on a UK PC) when the text reads as Western
European text. Refused: more than 64 KiB, binary content (NUL or other control bytes),
UTF-16 without a BOM, bytes that are not valid in the encoding they claim, and 8-bit text
that may be in another code page (Mac Roman, Cyrillic, Central European...): charset-normalizer
(``charset_normalizer``) must find the Windows-1252 reading plausible, and it must not show
the marks of a wrong decode (a price sign inside a word, a capital accented letter after a
small letter, characters such as "Ž" or "‰" that a UK caption does not use).
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

SIDECAR_LIMIT = 64 * 1024

_BOMS = (  # longest first: the UTF-32 LE BOM starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8 with BOM"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Characters a Windows-1252 caption plausibly holds above ASCII.
_CP1252_OK = set("’‘“”–—…€•™") | {chr(c) for c in range(0xA0, 0x100)}
_WRONG_DECODE = re.compile(r"[a-zß-ÿ][À-Þ]|[£¤¥¦§¨ª¬¯±²³´µ¶¸¹º¼½¾×÷][A-Za-z]|[A-Za-z][£¤¥¦§¨ª¬¯±²³µ¶¸¹º×÷]")
# The 8-bit code pages a caption written on a PC or a Mac could be in: charset-normalizer weighs
# these (a short text gives it too little to choose among every code page it knows).
_CODE_PAGES = ["cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1257", "mac_roman", "cp437", "cp850",
               "iso8859_2", "iso8859_5", "iso8859_7", "koi8_r"]


class CaptionRefused(ValueError):
    """The sidecar cannot be read safely; ``str(exc)`` says why in one sentence."""


@dataclass(frozen=True)
class Caption:
    text: str
    encoding: str      # what it was read as, for the record


def decode_caption(data: bytes) -> Caption:
    """The caption text of a sidecar's ``data`` (trimmed), or :class:`CaptionRefused`."""
    if len(data) > SIDECAR_LIMIT:
        raise CaptionRefused(f"the caption file is larger than {SIDECAR_LIMIT // 1024} KiB")
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom):].decode(codec)
            except UnicodeDecodeError:
                raise CaptionRefused(f"the caption file starts as {label} but is not valid {label}") from None
            return Caption(_checked(text), label)
    if _CONTROL_BYTES.search(data):
        raise CaptionRefused("the caption file is not plain text (it holds control or NUL bytes, "
                             "as a binary file or UTF-16 without a byte-order mark does); save it as UTF-8")
    try:
        return Caption(_checked(data.decode("utf-8")), "UTF-8")
    except UnicodeDecodeError:
        pass
    return Caption(_checked(_windows_1252(data)), "Windows-1252")


def _checked(text: str) -> str:
    if "\ufffd" in text:
        raise CaptionRefused("the caption file contains damaged characters (U+FFFD); save it again as UTF-8")
    if _CONTROL.search(text.replace("\t", " ")):
        raise CaptionRefused("the caption file holds control characters; save it as plain UTF-8 text")
    return text.strip()


def _windows_1252(data: bytes) -> str:
    unsure = CaptionRefused("the caption file is not UTF-8 and its encoding cannot be told for sure; "
                            "save it as UTF-8")
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise unsure from None
    if any(c not in _CP1252_OK for c in text if ord(c) > 127) or _WRONG_DECODE.search(text):
        raise unsure
    from charset_normalizer import from_bytes
    from charset_normalizer.md import mess_ratio

    if mess_ratio(text) > 0.1:
        raise unsure
    # charset-normalizer must find a reading that gives exactly this text plausible
    if not any(str(match) == text for match in from_bytes(data, cp_isolation=_CODE_PAGES)):
        raise unsure
    return text
