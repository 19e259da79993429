"""HEIF/HEIC: every top-level image's EXIF, XMP, ICC profile and thumbnails, through pillow-heif."""
from __future__ import annotations

import io

from processors.metadata.base import _Parts

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
