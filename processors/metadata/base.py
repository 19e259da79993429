"""What every parser shares: the report, the parts collected from a container, limits and text helpers."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from processors.gate.budget import Budget

FOUND_TAGS = ("exif", "gps", "xmp", "iptc", "thumbnail", "maker_notes", "comment", "icc_profile",
              "camera_serial", "owner", "caption", "xmp_person_names", "date_taken", "metadata_not_read")

MAX_XMP_BYTES = 16 * 1024 * 1024   # how far the end of one packet is looked for
MAX_TEXT_BYTES = 4 * 1024 * 1024  # per decompressed PNG text chunk
MAX_PACKETS = 16
# The budget of one file (issue 16): metadata is read for the record and the audit, so a file made
# of XMP packets (189 MB of them) must cost seconds, not minutes and gigabytes. Whatever is over the
# budget is not parsed; the report says so (``metadata_not_read`` and a problem in plain words).
# Real packets are a few KB (Lightroom with a long history: a few hundred KB).
XMP_BUDGET_BYTES = 4 * 1024 * 1024
EXIF_BUDGET_BYTES = 8 * 1024 * 1024
TEXT_BUDGET_BYTES = 4 * 1024 * 1024   # PNG text chunks (inflated) and JPEG comments, all together
TEXT_BUDGET_ITEMS = 256
METADATA_SECONDS = 5.0

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
    xmp_budget: Budget = field(default_factory=lambda: Budget(XMP_BUDGET_BYTES, MAX_PACKETS, METADATA_SECONDS))
    exif_budget: Budget = field(default_factory=lambda: Budget(EXIF_BUDGET_BYTES, MAX_PACKETS, METADATA_SECONDS))
    text_budget: Budget = field(default_factory=lambda: Budget(TEXT_BUDGET_BYTES, TEXT_BUDGET_ITEMS,
                                                               METADATA_SECONDS))
    unread_bytes: int = 0       # metadata over the budget, left unparsed
    unread_blocks: int = 0

    def add_exif(self, blob: bytes) -> None:
        if blob.startswith(b"Exif\x00"):
            blob = blob[6:]
        if len(blob) >= 8:
            self.flags.add("exif")
            if blob not in self.exif:
                if self.exif_budget.take(len(blob), "EXIF block"):
                    self.exif.append(blob)
                else:
                    self._unread(len(blob))

    def add_xmp(self, packet: bytes) -> None:
        self.flags.add("xmp")
        if packet and packet not in self.xmp:
            if self.xmp_budget.take(len(packet), "XMP packet"):
                self.xmp.append(packet)
            else:
                self._unread(len(packet))

    def text_room(self) -> int:
        """Bytes of text (comments, PNG text chunks) that may still be read."""
        if self.text_budget.items >= self.text_budget.max_items:
            return 0
        return max(0, self.text_budget.max_bytes - self.text_budget.bytes)

    def add_text(self, nbytes: int) -> bool:
        """Spend ``nbytes`` of the text budget; False (recorded as not read) when over it."""
        if self.text_budget.take(nbytes, "text block"):
            return True
        self._unread(nbytes)
        return False

    def _unread(self, nbytes: int) -> None:
        self.unread_bytes += nbytes
        self.unread_blocks += 1
        self.flags.add("metadata_not_read")

    def out_of_time(self) -> bool:
        if self.xmp_budget.expired():
            self.xmp_budget.check_quietly("metadata")
            self.flags.add("metadata_not_read")
            return True
        return False


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
