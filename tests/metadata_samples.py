"""Synthetic photos full of metadata, written by exiftool (the reference writer)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

PEOPLE_IN_XMP = ["Amelia Hart", "Noah Patel", "Zoë Brontë"]
IPTC_CAPTION = "Amelia Hart wins the sack race"

# exiftool arguments that stuff one file with every kind of metadata we care about.
STUFF_ARGS = [
    "-charset", "iptc=UTF8", "-IPTC:CodedCharacterSet=UTF8",
    "-XMP-iptcExt:PersonInImage=Amelia Hart",
    "-IPTC:Caption-Abstract=" + IPTC_CAPTION,
    "-IPTC:Headline=Sports day",
    "-IPTC:Keywords=sports", "-IPTC:Keywords=Zoë Brontë",
    "-IPTC:By-line=Mrs Jones",
    "-EXIF:ImageDescription=Year 4 sports day",
    "-EXIF:Artist=Mrs Jones",
    "-EXIF:Copyright=Oak Primary School",
    "-EXIF:UserComment=Noah Patel at the finish",
    "-EXIF:XPComment=XP comment about Noah",
    "-EXIF:XPTitle=XP title",
    "-EXIF:XPSubject=XP subject",
    "-EXIF:XPKeywords=kw1;kw2",
    "-EXIF:SerialNumber=SN-0042-XYZ",
    "-EXIF:OwnerName=Jane Jones",
    "-EXIF:DateTimeOriginal=2026:06:12 10:11:12",
    "-EXIF:Make=Canon", "-EXIF:Model=Canon EOS 40D",
    "-GPSLatitude=51.5", "-GPSLatitudeRef=N", "-GPSLongitude=0.12", "-GPSLongitudeRef=W",
    "-XMP-dc:Description=XMP description of Amelia Hart",
    "-XMP-dc:Title=XMP title",
    "-XMP-dc:Subject=Amelia Hart",
    "-XMP-photoshop:Headline=XMP headline",
    "-XMP-aux:SerialNumber=AUX-99",
    "-Comment=JPEG comment: Amelia",
    "-XMP-mwg-rs:RegionInfo={AppliedToDimensions={W=64,H=48,Unit=pixel},RegionList=["
    "{Area={X=0.5,Y=0.5,W=0.2,H=0.2,Unit=normalized},Name=Noah Patel,Type=Face},"
    "{Area={X=0.2,Y=0.2,W=0.1,H=0.1,Unit=normalized},Name=Rex,Type=Pet}]}",
    "-XMP-MP:RegionInfoMP={Regions=[{PersonDisplayName=Zoë Brontë}]}",
    "-ThumbnailImage<=THUMB",
]


def noisy_image(size=(64, 48), seed=1) -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(arr, "RGB")


def stuffed_jpeg(path: Path, exiftool: str) -> Path:
    """A JPEG carrying EXIF (GPS, serial, owner, thumbnail, XP*), IPTC, XMP (person names,
    MWG + Microsoft regions) and a comment, all written by exiftool."""
    noisy_image().save(path, "JPEG", quality=90)
    thumb = path.with_name(path.stem + "_thumb.jpg")
    noisy_image((16, 12), seed=2).save(thumb, "JPEG")
    args = [a.replace("THUMB", str(thumb)) for a in STUFF_ARGS]
    subprocess.run([exiftool, "-q", "-q", "-overwrite_original", *args, str(path)], check=True)
    thumb.unlink()
    return path
