"""Build the demo's register, reference photos and staff photos from faces shipped in packages.

Real faces ship inside registry packages: scikit-image's astronaut.png (Eileen Collins)
and matplotlib's grace_hopper.jpg. Nothing is downloaded.

    python scripts/make_demo_photos.py OUT_DIR
creates OUT_DIR/register.csv, OUT_DIR/reference/<person_id>.jpg and OUT_DIR/photos/...
"""
from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageEnhance, ImageOps


def sources() -> tuple[Image.Image, Image.Image]:
    import matplotlib
    import skimage

    astronaut = Image.open(Path(skimage.__file__).parent / "data" / "astronaut.png").convert("RGB")
    hopper = Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB")
    return astronaut, hopper


def exif_with_gps_and_owner() -> Image.Exif:
    """The kind of metadata a phone writes: location, owner, camera, a description naming a child."""
    exif = Image.Exif()
    exif[0x010F] = "DemoPhone"                       # Make
    exif[0x0110] = "DemoPhone 12"                    # Model
    exif[0x013B] = "Ms K. Patel"                     # Artist
    exif[0x010E] = "Eileen Collins collecting her science prize"   # ImageDescription
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (51.0, 30.0, 26.0)         # a school in London
    gps[3], gps[4] = "W", (0.0, 7.0, 39.0)
    return exif


def main(out: Path) -> None:
    astronaut, hopper = sources()
    out.mkdir(parents=True, exist_ok=True)
    (out / "reference").mkdir(exist_ok=True)
    photos = out / "photos" / "ms-patel"
    photos.mkdir(parents=True, exist_ok=True)

    # Reference photos: one face each.
    astronaut.crop((60, 0, 400, 300)).save(out / "reference" / "P001.jpg", quality=92)
    hopper.crop((60, 40, 500, 460)).save(out / "reference" / "P002.jpg", quality=92)

    (out / "register.csv").write_text(
        "person_id,given_name,family_name,group,role,website,social,newsletter,press,expires,never_publish,biometric\n"
        "P001,Eileen,Collins,Y5,pupil,yes,no,yes,no,2027-08-31,no,yes\n"
        "P002,Grace,Hopper,Y5,pupil,yes,yes,yes,yes,2027-08-31,no,yes\n"
        "P003,Sam,Okafor,Y5,pupil,no,no,no,no,,yes,no\n",
        encoding="utf-8",
    )

    # 1. Both pupils at an assembly, with phone metadata and a caption sidecar naming them in full.
    canvas = Image.new("RGB", (1300, 640), (225, 228, 235))
    canvas.paste(ImageOps.mirror(astronaut).resize((560, 560)), (40, 40))
    canvas.paste(ImageEnhance.Brightness(hopper).enhance(1.1).resize((520, 608)), (720, 16))
    canvas.save(photos / "IMG_0042 Eileen Collins and Grace Hopper.jpg", quality=90, exif=exif_with_gps_and_owner())
    (photos / "IMG_0042 Eileen Collins and Grace Hopper.jpg.txt").write_text(
        "Eileen Collins and Grace Hopper presenting their rocket project at the science assembly\n", encoding="utf-8")

    # 2. Grace alone, rotated the way a phone stores a portrait photo (EXIF orientation 6).
    exif = Image.Exif()
    exif[0x0112] = 6
    hopper.rotate(90, expand=True).save(photos / "IMG_0043.jpg", quality=90, exif=exif)

    # 3. A copy that broke on the way from the phone: rejected with a reason, kept in quarantine.
    data = (photos / "IMG_0043.jpg").read_bytes()
    (photos / "IMG_0044.jpg").write_bytes(data[: len(data) // 3])
    print(f"demo photos written to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "demo-workspace/sample"))
