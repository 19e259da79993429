"""What metadata an image file carries, for the record and for the audit.

Nothing here ever raises on broken metadata: a damaged block is reported in
``MetadataReport.problems`` and the rest is still read.

How each kind of block is found:

* the container is walked by hand (JPEG segments, PNG chunks, WebP RIFF chunks;
  HEIF through pillow-heif), collecting the EXIF (TIFF) blocks, XMP packets,
  Photoshop/IPTC blocks, ICC profiles, comments and PNG text chunks;
* EXIF blocks are decoded with exifread (GPS, thumbnail, maker notes, serial
  numbers, owner, descriptions);
* XMP packets are also searched for in the raw bytes (``<x:xmpmeta``), which
  finds them in HEIC files and trailers too, and parsed with ElementTree,
  namespace-aware (a packet with a DTD is never parsed: no entity tricks);
* IPTC-IIM datasets are read from Photoshop "8BIM" resources.

``found`` uses these tags:

=================  ==========================================================
exif               an EXIF block is present (any tag at all)
gps                location: a GPS tag other than the bare GPSVersionID, or
                   exif:GPSLatitude/GPSLongitude in XMP
xmp                an XMP packet is present
iptc               IPTC-IIM data is present
thumbnail          an embedded preview: EXIF IFD1, JFIF/JFXX, Photoshop,
                   XMP xmpGImg or HEIF thumbnail
maker_notes        camera maker notes
comment            a JPEG COM segment or a PNG text chunk
icc_profile        an ICC colour profile
camera_serial      body or lens serial number (EXIF, maker notes, XMP)
owner              camera owner / artist / creator / IPTC by-line
caption            ``embedded_caption`` finds a caption
xmp_person_names   person names in XMP (PersonInImage, MWG or Microsoft regions)
date_taken         a sound DateTimeOriginal (or XMP/IPTC creation date)
=================  ==========================================================
"""
from __future__ import annotations

import io
import logging
import re
import zlib

from processors.gate.budget import Budget
from dataclasses import dataclass, field
from datetime import date
from xml.etree import ElementTree as ET

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
METADATA_SECONDS = 5.0

# exifread logs every oddity of a damaged file as a warning; the report carries them instead.
logging.getLogger("exifread").setLevel(logging.CRITICAL)


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


def _walk_jpeg(data: bytes, parts: _Parts) -> None:
    photoshop: list[bytes] = []
    pos, n = 2, len(data)
    while pos + 4 <= n:
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
            photoshop.append(seg[14:])
        elif marker == 0xFE:
            parts.flags.add("comment")
            text = _text(seg).strip()
            if text:
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


def _walk_heif(data: bytes, parts: _Parts) -> None:
    import pillow_heif

    heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
    for img in heif:  # every top-level image (bursts, pairs), not just the primary one
        info = img.info
        if info.get("exif"):
            parts.add_exif(bytes(info["exif"]))
        if info.get("xmp"):
            parts.add_xmp(bytes(info["xmp"]))
        if info.get("icc_profile"):
            parts.flags.add("icc_profile")
        if info.get("thumbnails"):
            parts.flags.add("thumbnail")


# --------------------------------------------------------------------------- IPTC

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


# --------------------------------------------------------------------------- EXIF

_EXIF_TEXTS = {"Image ImageDescription": "exif:ImageDescription", "Image Artist": "exif:Artist",
               "Image Copyright": "exif:Copyright", "EXIF CameraOwnerName": "exif:CameraOwnerName",
               "MakerNote OwnerName": "exif:OwnerName"}
_XP_TAGS = {"Image XPComment": "exif:XPComment", "Image XPTitle": "exif:XPTitle",
            "Image XPSubject": "exif:XPSubject", "Image XPKeywords": "exif:XPKeywords",
            "Image XPAuthor": "exif:XPAuthor"}


def _exifread(blob: bytes) -> dict:
    import exifread

    return exifread.process_file(io.BytesIO(blob), details=True, extract_thumbnail=True)


def _read_exif(parts: _Parts, report: MetadataReport, dates: list[str], raw: bytes, kind: str) -> None:
    tag_sets = []
    # Containers we cannot walk (or whose walk found nothing, e.g. a HEIF pillow-heif could not
    # open): let exifread look for EXIF in the whole file.
    blobs = parts.exif if parts.exif else ([raw] if kind in ("TIFF", "HEIF", "other") else [])
    for blob in blobs:
        try:
            tags = _exifread(blob)
        except Exception:
            tags = {}
            parts.problems.append("The EXIF block is damaged and could not be read completely.")
        if tags:
            tag_sets.append(tags)
            parts.flags.add("exif")
        elif blob is not raw:
            parts.problems.append("The EXIF block is damaged and could not be read.")
    for tags in tag_sets:
        for key, tag in tags.items():
            try:
                _exif_tag(key, tag, parts, report, dates)
            except Exception:
                continue


def _exif_tag(key: str, tag, parts: _Parts, report: MetadataReport, dates: list[str]) -> None:
    if key in ("JPEGThumbnail", "TIFFThumbnail") or key.startswith("Thumbnail JPEGInterchangeFormat"):
        parts.flags.add("thumbnail")
        return
    if key.startswith("GPS ") and key != "GPS GPSVersionID":
        parts.flags.add("gps")
    if key.startswith("MakerNote ") or key == "EXIF MakerNote":
        parts.flags.add("maker_notes")
    if "SerialNumber" in key and _tag_str(tag):
        parts.flags.add("camera_serial")
    if key in ("EXIF CameraOwnerName", "MakerNote OwnerName", "Image Artist") and _tag_str(tag):
        parts.flags.add("owner")
    if key == "EXIF DateTimeOriginal":
        dates.insert(0, _tag_str(tag))
    if key in _EXIF_TEXTS:
        value = _tag_str(tag).replace("\x00", " / ") if key == "Image Copyright" else _tag_str(tag)
        _put(report.texts, _EXIF_TEXTS[key], value)
    elif key in _XP_TAGS:
        _put(report.texts, _XP_TAGS[key], _ucs2(tag.values))
    elif key == "EXIF UserComment":
        _put(report.texts, "exif:UserComment", _user_comment(tag.values))


def _tag_str(tag) -> str:
    values = getattr(tag, "values", tag)
    if isinstance(values, bytes):
        values = _text(values)
    if isinstance(values, str):
        return values.strip("\x00").strip()
    printable = getattr(tag, "printable", "")
    return str(printable).strip("\x00").strip()


def _as_bytes(values) -> bytes:
    if isinstance(values, (bytes, bytearray)):
        return bytes(values)
    if isinstance(values, str):
        return values.encode("latin-1", errors="replace")
    return bytes(int(v) & 0xFF for v in values)


def _ucs2(values) -> str:
    raw = _as_bytes(values)
    return raw.decode("utf-16-le", errors="replace").rstrip("\x00").strip()


def _user_comment(values) -> str:
    raw = _as_bytes(values)
    code, body = raw[:8], raw[8:]
    if code.startswith(b"UNICODE"):
        # Byte order is not specified; plain text in UTF-16 has zero high bytes for Latin text.
        le = body[1::2].count(0) >= body[0::2].count(0)
        text = body.decode("utf-16-le" if le else "utf-16-be", errors="replace")
    elif code.startswith(b"JIS"):
        text = body.decode("shift_jis", errors="replace")
    elif code.startswith(b"ASCII") or code == b"\x00" * 8:
        text = _text(body)
    else:  # no valid code: the whole field is the text
        text = _text(raw)
    return text.strip("\x00").strip()


# --------------------------------------------------------------------------- XMP

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
NS = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    "Iptc4xmpCore": "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/",
    "mwg-rs": "http://www.metadataworkinggroup.com/schemas/regions/",
    "acdsee-rs": "http://ns.acdsee.com/regions/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "exifEX": "http://cipa.jp/exif/1.0/",
    "aux": "http://ns.adobe.com/exif/1.0/aux/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpGImg": "http://ns.adobe.com/xap/1.0/g/img/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "MicrosoftPhoto": "http://ns.microsoft.com/photo/1.0/",
    "digiKam": "http://www.digikam.org/ns/1.0/",
}
MS_PHOTO_PREFIX = "http://ns.microsoft.com/photo/"

# (prefix, property, joiner): joiner None = first value only (language alternatives)
_XMP_TEXTS = [
    ("dc", "description", None), ("dc", "title", None), ("dc", "subject", ", "),
    ("photoshop", "Headline", None), ("dc", "creator", ", "), ("dc", "rights", None),
    ("tiff", "ImageDescription", None), ("tiff", "Artist", None), ("exif", "UserComment", None),
    ("photoshop", "CaptionWriter", None), ("lr", "hierarchicalSubject", ", "),
    ("MicrosoftPhoto", "LastKeywordXMP", ", "), ("digiKam", "TagsList", ", "),
]

_XMP_START = re.compile(rb"<x:x[am]pmeta\b")
_XMP_END = re.compile(rb"</x:x[am]pmeta\s*>")


def _find_xmp_in_bytes(data: bytes, parts: _Parts) -> None:
    pos = 0
    while True:
        m = _XMP_START.search(data, pos)
        if not m:
            break
        if parts.unread_blocks >= MAX_PACKETS or parts.out_of_time():
            parts.flags.update(("xmp", "metadata_not_read"))  # more packets: not even located one by one
            break
        end = _XMP_END.search(data, m.end(), m.start() + MAX_XMP_BYTES)
        if not end:
            parts.flags.add("xmp")
            parts.problems.append("An XMP packet is cut off.")
            break
        size = end.end() - m.start()
        if size > parts.xmp_budget.max_bytes - parts.xmp_budget.bytes:  # never copied, never parsed
            parts.flags.add("xmp")
            parts.xmp_budget.take(size, "XMP packet")
            parts._unread(size)
        else:
            parts.add_xmp(data[m.start():end.end()])
        pos = end.end()
    if not parts.xmp and not parts.unread_blocks:
        m = re.search(rb"<rdf:RDF\b", data)
        if m:
            end = data.find(b"</rdf:RDF>", m.end(), m.start() + MAX_XMP_BYTES)
            if end > 0:
                parts.add_xmp(data[m.start():end + 10])


def _parse_xmp(packet: bytes) -> ET.Element | None:
    start = _XMP_START.search(packet)
    if start:
        end = _XMP_END.search(packet, start.end())
        if end:
            packet = packet[start.start():end.end()]
    else:
        m = re.search(rb"<rdf:RDF\b", packet)
        end = packet.rfind(b"</rdf:RDF>")
        if m and end > 0:
            packet = packet[m.start():end + 10]
    if b"<!DOCTYPE" in packet or b"<!ENTITY" in packet:
        raise ValueError("XMP with a DTD is not parsed")
    try:
        return ET.fromstring(packet)
    except ET.ParseError:
        return ET.fromstring(packet.decode("latin-1"))


def _li_texts(container: ET.Element) -> list[str]:
    items = [li for li in container if li.tag == f"{{{RDF}}}li"]
    items.sort(key=lambda li: li.get(XML_LANG, "") != "x-default")  # stable: x-default first
    out = []
    for li in items:
        text = li.text or li.get(f"{{{RDF}}}value") or ""
        if not text.strip():
            value = li.find(f"{{{RDF}}}value")
            text = value.text if value is not None and value.text else ""
        if text.strip():
            out.append(text.strip())
    return out


def _element_values(el: ET.Element) -> list[str]:
    containers = [c for c in el if c.tag in (f"{{{RDF}}}Alt", f"{{{RDF}}}Bag", f"{{{RDF}}}Seq")]
    if containers:
        return [t for c in containers for t in _li_texts(c)]
    if el.text and el.text.strip():
        return [el.text.strip()]
    resource = el.get(f"{{{RDF}}}resource")
    return [resource.strip()] if resource and resource.strip() else []


def _xmp_values(root: ET.Element, ns: str, local: str) -> list[str]:
    qname = f"{{{ns}}}{local}"
    values: list[str] = []
    for el in root.iter():
        attr = el.get(qname)
        if attr is not None and attr.strip():
            values.append(attr.strip())
        if el.tag == qname:
            values.extend(_element_values(el))
    return values


def _region_names(root: ET.Element, ns: str, skip_types=("pet", "focus", "barcode")) -> list[str]:
    """Names of MWG-style regions: ``Name``/``Type`` as attributes or child elements of one struct."""
    name_q, type_q = f"{{{ns}}}Name", f"{{{ns}}}Type"
    names = []
    for el in root.iter():
        name, kind = el.get(name_q), el.get(type_q)
        for child in el:
            if child.tag == name_q:
                vals = _element_values(child)
                name = vals[0] if vals else name
            elif child.tag == type_q:
                vals = _element_values(child)
                kind = vals[0] if vals else kind
        if name and name.strip() and (kind or "").strip().lower() not in skip_types:
            names.append(name.strip())
    return names


def _ms_region_names(root: ET.Element) -> list[str]:
    names = []
    for el in root.iter():
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag.startswith("{" + MS_PHOTO_PREFIX) and tag.endswith("}PersonDisplayName"):
            names.extend(_element_values(el))
        for key, value in el.attrib.items():
            if key.startswith("{" + MS_PHOTO_PREFIX) and key.endswith("}PersonDisplayName") and value.strip():
                names.append(value.strip())
    return names


def _read_xmp(parts: _Parts, report: MetadataReport, names: list[str], dates: list[str]) -> None:
    texts: dict[str, list[str]] = {}
    for packet in parts.xmp:
        if parts.out_of_time():
            break
        try:
            root = _parse_xmp(packet)
        except Exception:
            root = None
        if root is None:
            parts.problems.append("An XMP packet is damaged and could not be read.")
            continue
        for prefix, prop, joiner in _XMP_TEXTS:
            vals = _xmp_values(root, NS[prefix], prop)
            if vals:
                texts.setdefault(f"xmp:{prefix}:{prop}", []).extend(vals[:1] if joiner is None else vals)
        names.extend(_xmp_values(root, NS["Iptc4xmpExt"], "PersonInImage"))
        names.extend(_xmp_values(root, NS["Iptc4xmpExt"], "PersonName"))  # PersonInImageWDetails
        names.extend(_region_names(root, NS["mwg-rs"]))
        names.extend(_region_names(root, NS["acdsee-rs"]))
        names.extend(_ms_region_names(root))
        if _xmp_values(root, NS["exif"], "GPSLatitude") or _xmp_values(root, NS["exif"], "GPSLongitude"):
            parts.flags.add("gps")
        if any(_xmp_values(root, NS[p], k) for p, k in (("aux", "SerialNumber"), ("aux", "LensSerialNumber"),
                                                           ("exifEX", "BodySerialNumber"),
                                                           ("exifEX", "LensSerialNumber"))):
            parts.flags.add("camera_serial")
        if any(_xmp_values(root, NS[p], k) for p, k in (("aux", "OwnerName"), ("exifEX", "CameraOwnerName"),
                                                           ("dc", "creator"), ("tiff", "Artist"))):
            parts.flags.add("owner")
        if _xmp_values(root, NS["xmp"], "Thumbnails") or _xmp_values(root, NS["xmpGImg"], "image"):
            parts.flags.add("thumbnail")
        dates.extend(_xmp_values(root, NS["exif"], "DateTimeOriginal"))
        dates.extend(_xmp_values(root, NS["photoshop"], "DateCreated"))
    for name, vals in texts.items():
        joiner = next((j for p, k, j in _XMP_TEXTS if f"xmp:{p}:{k}" == name), None)
        uniq = _unique(vals)
        _put(report.texts, name, uniq[0] if joiner is None else joiner.join(uniq))


# --------------------------------------------------------------------------- helpers

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


def _container(data: bytes) -> str:
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":
        return "HEIF"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    return "other"


# --------------------------------------------------------------------------- public API

def inspect_metadata(data: bytes, name: str = "") -> MetadataReport:
    """Report what metadata ``data`` (the bytes of an image file) carries. Never raises."""
    report = MetadataReport()
    try:
        _inspect(data, report)
    except Exception:  # belt and braces: a report is always returned
        report.problems.append("The metadata could not be read completely.")
    report.problems = _unique(report.problems)
    return report


def _inspect(data: bytes, report: MetadataReport) -> None:
    parts = _Parts()
    kind = _container(data)
    walkers = {"JPEG": _walk_jpeg, "PNG": _walk_png, "WEBP": _walk_webp, "HEIF": _walk_heif}
    if kind in walkers:
        try:
            walkers[kind](data, parts)
        except Exception:
            parts.problems.append("The file's structure is damaged; some metadata may be unreadable.")
    try:
        _find_xmp_in_bytes(data, parts)
    except Exception:
        pass

    dates: list[str] = []
    names: list[str] = []
    for step in (lambda: _read_iptc(parts, report, dates),
                 lambda: _read_exif(parts, report, dates, data, kind),
                 lambda: _read_xmp(parts, report, names, dates)):
        if parts.out_of_time():
            break
        try:
            step()
        except Exception:
            parts.problems.append("Some metadata could not be read.")

    if parts.comments:
        _put(report.texts, "comment", "\n".join(_unique(parts.comments)))
    for key, value in parts.png_texts:
        _put(report.texts, f"png:{key}", value)

    report.person_names = _unique(names)
    if report.person_names:
        parts.flags.add("xmp_person_names")
    for candidate in dates:
        sound = _sound_date(candidate)
        if sound:
            report.taken_date = sound
            parts.flags.add("date_taken")
            break
    if embedded_caption(report):
        parts.flags.add("caption")
    if "metadata_not_read" in parts.flags:
        over = parts.xmp_budget.over + parts.exif_budget.over
        size = f" ({parts.unread_bytes / 1e6:,.1f} MB in {parts.unread_blocks} block(s))" if parts.unread_bytes else ""
        parts.problems.append(f"Some embedded metadata was not read{size}: " + "; ".join(_unique(over) or
                              ["more than the reading budget"]) + ".")
    report.found = sorted(f for f in parts.flags if f in FOUND_TAGS)
    report.problems.extend(parts.problems)


# Text that cameras and phones put in description fields by themselves.
_CAMERA_JUNK = {
    "olympus digital camera", "sony dsc", "kodak digital still camera", "digital camera",
    "minolta digital camera", "konica minolta digital camera", "exif_jpeg_picture", "samsung",
    "samsung digital camera", "default", "untitled", "image", "picture", "photo", "camera",
    "company name", "ncr", "lg digital camera", "sanyo digital camera", "pentax digital camera",
    "fujifilm digital camera", "casio digital camera", "nikon digital camera", "vivitar", "leica",
    "hp photosmart", "jpeg", "jpg", "no title", "title", "description", "[none]", "none", "n/a",
    "created with gimp", "screenshot", "apple image", "copyright", "unknown", "ok",
}
_JUNK_PATTERNS = [
    re.compile(r"^[\s\x00?._\-]*$"),  # blank, NULs, punctuation
    re.compile(r"^(img|dsc|dscn|dscf|p|pict|photo|image|dcim|mvimg|pxl|wp)[_\- ]?\d+(\.\w+)?$", re.I),
    re.compile(r"^[0-9a-f]{16,}$", re.I),  # digests
    re.compile(r"^\d+$"),
    re.compile(r"^<.*>$"),  # e.g. "<KENOX S630  / Samsung S630>"
    re.compile(r"digital (still )?camera$", re.I),
]

_CAPTION_SOURCES = ("iptc:Caption", "xmp:dc:description", "exif:ImageDescription", "xmp:tiff:ImageDescription",
                    "exif:XPComment", "exif:UserComment", "xmp:exif:UserComment")


def is_camera_junk(text: str) -> bool:
    """True for text a camera writes by itself ("OLYMPUS DIGITAL CAMERA", blanks, file numbers)."""
    cleaned = " ".join((text or "").replace("\x00", " ").split())
    if cleaned.casefold() in _CAMERA_JUNK:
        return True
    return any(p.search(cleaned) for p in _JUNK_PATTERNS)


def embedded_caption(report: MetadataReport) -> str | None:
    """The best human caption in the file, or None: IPTC caption, XMP dc:description, EXIF
    ImageDescription, then XPComment/UserComment; camera boilerplate is skipped."""
    for key in _CAPTION_SOURCES:
        text = report.texts.get(key)
        if text and not is_camera_junk(text):
            return " ".join(text.split()) if "\n" not in text else text.strip()
    return None


__all__ = ["MetadataReport", "inspect_metadata", "embedded_caption", "is_camera_junk", "FOUND_TAGS"]
