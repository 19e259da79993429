"""What every parser shares: the report, the parts collected from a container, limits and text helpers."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

FOUND_TAGS = ("exif", "gps", "xmp", "iptc", "thumbnail", "maker_notes", "comment", "icc_profile",
              "camera_serial", "owner", "caption", "xmp_person_names", "date_taken")

MAX_XMP_BYTES = 16 * 1024 * 1024
MAX_TEXT_BYTES = 4 * 1024 * 1024  # per decompressed PNG text chunk
MAX_PACKETS = 16

@dataclass
class MetadataReport:
    found: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    person_names: list[str] = field(default_factory=list)
    taken_date: str | None = None
    # Parts that could not be read, in plain words (never a reason to reject a photo).
    problems: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- collection


@dataclass
class _Parts:
    exif: list[bytes] = field(default_factory=list)  # TIFF-structured EXIF blocks
    xmp: list[bytes] = field(default_factory=list)
    irb: list[bytes] = field(default_factory=list)  # Photoshop image resource blocks (8BIM ...)
    iim: list[bytes] = field(default_factory=list)  # raw IPTC-IIM
    comments: list[str] = field(default_factory=list)
    png_texts: list[tuple[str, str]] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def add_exif(self, blob: bytes) -> None:
        if blob.startswith(b"Exif\x00"):
            blob = blob[6:]
        if len(blob) >= 8:
            self.flags.add("exif")
            if blob not in self.exif:
                self.exif.append(blob)

    def add_xmp(self, packet: bytes) -> None:
        self.flags.add("xmp")
        if packet and packet not in self.xmp and len(self.xmp) < MAX_PACKETS:
            self.xmp.append(packet[:MAX_XMP_BYTES])


def _text(raw: bytes) -> str:
    raw = raw.rstrip(b"\x00")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


_APP1_EXIF = re.compile(rb"\xff\xe1(..)Exif\x00", re.S)


def _unique(items: list[str]) -> list[str]:
    seen, out = set(), []
    for item in items:
        key = item.strip()
        if key and key.casefold() not in seen:
            seen.add(key.casefold())
            out.append(key)
    return out


def _put(texts: dict[str, str], key: str, value: str) -> None:
    value = (value or "").replace("\x00", " ").strip()
    if value and key not in texts:
        texts[key] = value


def _sound_date(text: str) -> str | None:
    m = re.match(r"\s*(\d{4})[:\-]?(\d{2})[:\-]?(\d{2})", text or "")
    if not m:
        return None
    try:
        d = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
    if d.year < 1900 or d.year > date.today().year + 1:
        return None
    return d.isoformat()
