"""The caption a file carries: the best human description, camera boilerplate skipped."""
from __future__ import annotations

import re

from processors.metadata.base import MetadataReport

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
