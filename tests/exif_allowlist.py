"""What exiftool may report about a released file: structure only, no metadata.

Use::

    from tests.exif_allowlist import exiftool_tags, leaked_tags
    assert leaked_tags(exiftool_tags(path)) == []
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

# Facts about the file on disk (name, size, dates, permissions), not about its content.
ALLOWED_GROUPS = ("System:",)

# Structural tags of a bare baseline JPEG, plus exiftool's own bookkeeping.
ALLOWED_TAGS = {
    "SourceFile",
    "ExifTool:ExifToolVersion",
    "File:FileType",
    "File:FileTypeExtension",
    "File:MIMEType",
    "File:ImageWidth",
    "File:ImageHeight",
    "File:EncodingProcess",
    "File:BitsPerSample",
    "File:ColorComponents",
    "File:YCbCrSubSampling",
    "JFIF:JFIFVersion",
    "JFIF:ResolutionUnit",
    "JFIF:XResolution",
    "JFIF:YResolution",
    "Composite:ImageSize",
    "Composite:Megapixels",
}

# The JFIF header must be the encoder's neutral default, never the source's density.
REQUIRED_VALUES = {
    "JFIF:ResolutionUnit": "None",
    "JFIF:XResolution": 1,
    "JFIF:YResolution": 1,
}


def exiftool_tags(path: Path | str, exiftool: str = "exiftool") -> dict:
    """Every tag exiftool can find: all duplicates (-a), unknown tags (-u -U), by group (-G1)."""
    return exiftool_tags_many([path], exiftool)[0]


def exiftool_tags_many(paths, exiftool: str = "exiftool") -> list[dict]:
    """``exiftool_tags`` for many files in one exiftool run, in the order given."""
    paths = [str(p) for p in paths]
    proc = subprocess.run([exiftool, "-j", "-a", "-u", "-U", "-G1", *paths],
                          capture_output=True, text=True, check=True)
    by_file = {entry["SourceFile"]: entry for entry in json.loads(proc.stdout)}
    return [by_file[p] for p in paths]


def leaked_tags(tags: dict) -> list[str]:
    """Tags (with values) that are not allowed in a released file; empty means clean."""
    bad = []
    for key, value in tags.items():
        if key.startswith(ALLOWED_GROUPS):
            continue
        if key not in ALLOWED_TAGS:
            bad.append(f"{key}={value!r}")
        elif key in REQUIRED_VALUES and value != REQUIRED_VALUES[key]:
            bad.append(f"{key}={value!r} (expected {REQUIRED_VALUES[key]!r})")
    return bad
