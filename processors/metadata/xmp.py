"""XMP packets: found in the container or in the raw bytes (HEIC, trailers), parsed with ElementTree,
namespace-aware; a packet with a DTD is never parsed (no entity tricks)."""
from __future__ import annotations

import re
from xml.etree import ElementTree as ET

from processors.metadata.base import MAX_PACKETS, MAX_XMP_BYTES, MetadataReport, _Parts, _put, _unique

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
        if not end:  # cut off, or longer than anything worth reading: either way not read
            parts.flags.add("xmp")
            parts.problems.append("An XMP packet is cut off (or too long to read).")
            parts._unread(min(len(data), m.start() + MAX_XMP_BYTES) - m.start())
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
