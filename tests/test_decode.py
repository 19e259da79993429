"""decode_image: every input ends as upright sRGB pixels or a plain-language rejection."""
from __future__ import annotations

import io
import random
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from processors.decode import DecodedImage, RejectedImage, decode_image
from tests.conftest import fixtures_dir
from tests.metadata_samples import noisy_image

LIMITS = dict(max_bytes=200_000_000, max_pixels=100_000_000)


def decode(data: bytes, name: str = "photo.jpg", **limits) -> DecodedImage:
    return decode_image(data, name=name, **{**LIMITS, **limits})


def rejected(data: bytes, name: str = "photo.jpg", **limits) -> RejectedImage:
    with pytest.raises(RejectedImage) as info:
        decode(data, name, **limits)
    reason = info.value.reason
    assert reason and reason[0].isupper() and reason.rstrip().endswith((".", ")")), reason
    assert "Traceback" not in reason and "Error" not in reason, reason
    return info.value


def encoded(image: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


def small(image: Image.Image, size=(32, 24)) -> np.ndarray:
    return np.asarray(image.resize(size, Image.Resampling.BOX), dtype=float)


# --------------------------------------------------------------------------- real fixtures

def test_every_metadata_fixture_decodes_or_is_rejected_cleanly():
    root = fixtures_dir("metadata")
    files = sorted(p for p in root.rglob("*") if p.is_file())
    assert len(files) >= 25
    outcomes = {}
    for path in files:
        try:
            result = decode(path.read_bytes(), path.name)
        except RejectedImage as exc:
            outcomes[path.relative_to(root).as_posix()] = exc.reason
        else:
            assert isinstance(result, DecodedImage)
            assert result.image.mode == "RGB"
            assert result.image.size == result.original_size
            assert result.image.info == {}
            outcomes[path.relative_to(root).as_posix()] = result.format
    assert outcomes["DSCN0010.jpg"] == "JPEG"
    assert outcomes["IMG_5195.HEIC"] == "HEIF"
    # Broken metadata, sound pixels: processed.
    assert outcomes["invalid/image00971.jpg"] == "JPEG"
    assert outcomes["invalid/image01137.jpg"] == "JPEG"
    # The last rows of corrupted.jpg are missing (libjpeg fills them with grey): rejected.
    assert "damaged or incomplete" in outcomes["invalid/corrupted.jpg"]


def test_corrupted_fixture_is_rejected_although_pillow_alone_would_accept_it():
    data = (fixtures_dir("metadata", "invalid") / "corrupted.jpg").read_bytes()
    with Image.open(io.BytesIO(data)) as im:
        im.load()  # Pillow fills the missing part silently
        bottom = np.asarray(im.crop((0, im.height - 8, im.width, im.height)))
    assert (bottom == 128).all(), "the fixture's tell-tale grey rows"
    exc = rejected(data)
    assert exc.code == "damaged"
    assert "truncated JPEG" in exc.reason


@pytest.mark.parametrize("kind", ["landscape", "portrait"])
def test_all_eight_orientations_decode_upright(kind):
    folder = fixtures_dir("metadata", "orientation")
    reference = decode((folder / f"{kind}_1.jpg").read_bytes())
    w, h = reference.original_size
    assert (w > h) == (kind == "landscape")
    ref = small(reference.image)
    for n in range(1, 9):
        data = (folder / f"{kind}_{n}.jpg").read_bytes()
        result = decode(data)
        assert result.original_size == (w, h), n
        assert result.orientation == n
        diff = np.abs(small(result.image) - ref).mean()
        assert diff < 6, (n, diff)
        if n > 1:  # the control: without correction the picture would not match
            with Image.open(io.BytesIO(data)) as raw:
                raw_rgb = raw.convert("RGB")
            if raw_rgb.size == (w, h):
                assert np.abs(small(raw_rgb) - ref).mean() > 20, n


def test_heic_fixture_decodes_full_size_in_srgb():
    result = decode((fixtures_dir("metadata") / "IMG_5195.HEIC").read_bytes(), "IMG_5195.HEIC")
    assert result.format == "HEIF"
    assert result.original_size == (2566, 3313)
    assert result.converted_from_profile == "Display P3"


# --------------------------------------------------------------------------- rejections

def test_empty_file():
    exc = rejected(b"")
    assert exc.reason == "The file is empty (0 bytes)."
    assert exc.code == "empty"


def test_byte_limit_is_checked_first():
    exc = rejected(b"%PDF-1.7 " + b"x" * 2000, max_bytes=1000)
    assert exc.code == "too_big"
    assert "too large" in exc.reason and "limit" in exc.reason
    exc = rejected(b"\xff\xd8\xff" + bytes(3 * 1024 * 1024), max_bytes=2 * 1024 * 1024)
    assert exc.reason.startswith("The file is too large (3.0 MB; the limit is 2.0 MB).")


@pytest.mark.parametrize("data, looks_like", [
    (b"Dear parents,\nSports day is on Friday.\n" * 20, "a text file"),
    (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "a PDF document"),
    (b"<!DOCTYPE html><html><body>photo</body></html>", "a web page (HTML)"),
    (b"PK\x03\x04\x14\x00\x06\x00" + bytes(200), "a ZIP archive or Office document"),
    (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(100), "a video"),
    (bytes(range(256)) * 4, "an unknown kind of file"),
])
def test_not_a_photo_says_what_it_looks_like(data, looks_like):
    exc = rejected(data, "IMG_0001.jpg")
    assert exc.reason == f"This is not a photo (looks like {looks_like})."
    assert exc.code == "not_an_image"


@pytest.mark.parametrize("fmt, looks_like", [("GIF", "a GIF image"), ("TIFF", "a TIFF image"),
                                             ("BMP", "a BMP image")])
def test_other_image_types_are_refused_with_advice(fmt, looks_like):
    exc = rejected(encoded(noisy_image(), fmt), "picture.jpg")
    assert looks_like in exc.reason and "Save it as JPEG or PNG" in exc.reason
    assert exc.code == "unsupported_type"


def test_truncated_jpeg_is_rejected():
    data = encoded(noisy_image((800, 600)), "JPEG", quality=90)
    exc = rejected(data[: len(data) // 2])
    assert exc.reason == ("The photo is damaged or incomplete (truncated JPEG) — "
                          "copy it again from the camera or phone.")


def test_truncated_jpeg_with_end_marker_is_rejected_by_the_strict_check():
    """Cut in half but closed with an EOI marker: Pillow decodes it without complaint (grey
    fill), so only the strict libjpeg-turbo pass can catch it."""
    data = encoded(noisy_image((800, 600)), "JPEG", quality=90)
    cut = data[: len(data) // 2] + b"\xff\xd9"
    with Image.open(io.BytesIO(cut)) as im:
        im.load()
    assert rejected(cut).code == "damaged"


def test_truncated_png_webp_and_heic_are_rejected(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    image = noisy_image((300, 200))
    for fmt, name in (("PNG", "a.png"), ("WEBP", "a.webp"), ("HEIF", "a.heic")):
        data = encoded(image, fmt, **({"quality": 90} if fmt != "PNG" else {}))
        assert decode(data, name).original_size == (300, 200)
        exc = rejected(data[: len(data) * 2 // 3], name)
        assert exc.code == "damaged", (fmt, exc.reason)


def test_png_with_a_bad_crc_is_rejected():
    data = bytearray(encoded(noisy_image((50, 40)), "PNG"))
    idat = data.find(b"IDAT")
    data[idat + 10] ^= 0xFF
    assert rejected(bytes(data), "a.png").code == "damaged"


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (1-bit grey) followed by a tiny IDAT and IEND."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


def test_decompression_bomb_is_rejected_from_the_header():
    exc = rejected(_png_header_only(60000, 60000), "bomb.png")
    assert exc.code == "too_many_pixels"
    assert "3,600 megapixels" in exc.reason and "limit is 100 megapixels" in exc.reason


def test_pixel_limit_is_checked_before_decoding():
    # 12,000 x 10,000 = 120 MP: over our limit, under Pillow's hard limit, so our own check fires.
    exc = rejected(_png_header_only(12000, 10000), "big.png")
    assert exc.reason.startswith("The image is too large (12,000 × 10,000 pixels; the limit is 100 megapixels)")
    # A small real image with a small limit: same rule.
    exc = rejected(encoded(noisy_image((100, 100)), "PNG"), "a.png", max_pixels=5000)
    assert "100 × 100 pixels" in exc.reason
    assert decode(encoded(noisy_image((100, 100)), "PNG"), max_pixels=10000).original_size == (100, 100)


def test_jpeg_claiming_huge_dimensions_is_rejected_before_decoding():
    data = bytearray(encoded(noisy_image((64, 48)), "JPEG"))
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 9000, 12000)  # height, width: 108 MP
    exc = rejected(bytes(data))
    assert exc.code == "too_many_pixels"
    assert "12,000 × 9,000 pixels" in exc.reason
    data[sof + 5:sof + 9] = struct.pack(">HH", 30000, 40000)  # beyond Pillow's own hard ceiling
    exc = rejected(bytes(data))
    assert exc.code == "too_many_pixels"
    assert "(1,200 megapixels; the limit is 100 megapixels)" in exc.reason


def test_garbage_variants_never_raise_anything_else():
    """Flip bytes all over real files of every accepted type: decoded or rejected, nothing else."""
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    rng = random.Random(1234)
    base = noisy_image((120, 90))
    samples = {fmt: encoded(base, fmt) for fmt in ("JPEG", "PNG", "WEBP", "HEIF")}
    outcomes = {"decoded": 0, "rejected": 0}
    for fmt, data in samples.items():
        for i in range(25):
            mutated = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                pos = rng.randrange(min(len(mutated), 400) if i % 2 else len(mutated))
                mutated[pos] = rng.randrange(256)
            if i % 5 == 4:
                mutated = mutated[: rng.randrange(1, len(mutated))]
            try:
                result = decode(bytes(mutated), f"x.{fmt.lower()}")
                assert result.image.mode == "RGB"
                outcomes["decoded"] += 1
            except RejectedImage:
                outcomes["rejected"] += 1
    assert outcomes["rejected"] > 0


# --------------------------------------------------------------------------- content, not names

def test_png_named_jpg_decodes_by_content():
    result = decode(encoded(noisy_image(), "PNG"), "IMG_0042.JPG")
    assert result.format == "PNG"
    assert result.original_size == (64, 48)


def test_webp_and_animated_webp_first_frame():
    assert decode(encoded(noisy_image(), "WEBP", quality=90), "a.webp").format == "WEBP"
    red, blue = Image.new("RGB", (40, 30), (255, 0, 0)), Image.new("RGB", (40, 30), (0, 0, 255))
    data = encoded(red, "WEBP", save_all=True, append_images=[blue], duration=100, lossless=True)
    with Image.open(io.BytesIO(data)) as im:
        assert im.n_frames == 2
    result = decode(data, "anim.webp")
    r, g, b = result.image.getpixel((20, 15))
    assert r > 240 and b < 15


def test_heic_written_by_pillow_heif():
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    image = Image.new("RGB", (128, 96), (30, 160, 60))
    result = decode(encoded(image, "HEIF", quality=95), "IMG_1.HEIC")
    assert result.format == "HEIF"
    assert result.original_size == (128, 96)
    assert np.abs(np.asarray(result.image, dtype=float) - (30, 160, 60)).mean() < 8


def test_multi_picture_jpeg_uses_the_first_picture():
    first, second = Image.new("RGB", (60, 40), (250, 250, 0)), Image.new("RGB", (60, 40), (0, 0, 250))
    data = encoded(first, "MPO", save_all=True, append_images=[second])
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "MPO"
    result = decode(data)
    assert result.format == "JPEG"
    r, g, b = result.image.getpixel((30, 20))
    assert r > 230 and g > 230 and b < 30


# --------------------------------------------------------------------------- pixel modes

def test_16_bit_grey_png_is_scaled_not_clipped():
    arr = np.full((20, 30), 40000, dtype=np.uint16)
    arr[:, :10] = 1000
    data = encoded(Image.fromarray(arr), "PNG")
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode.startswith("I")
    pixels = np.asarray(decode(data, "a.png").image)
    assert tuple(pixels[5, 20]) == (156, 156, 156)  # 40000 >> 8, not clipped to 255
    assert tuple(pixels[5, 5]) == (3, 3, 3)


def test_16_bit_rgb_png():
    arr = np.zeros((10, 10, 3), dtype=">u2")
    arr[..., 0] = 65535
    arr[..., 2] = 32768
    raw = b"".join(b"\x00" + row.tobytes() for row in arr)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 10, 10, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    assert decode(data, "deep.png").image.getpixel((3, 3)) == (255, 0, 128)


def test_alpha_is_composited_on_white():
    rgba = Image.new("RGBA", (20, 10), (255, 0, 0, 128))
    rgba.paste((0, 0, 0, 0), (10, 0, 20, 10))
    image = decode(encoded(rgba, "PNG"), "a.png").image
    r, g, b = image.getpixel((5, 5))
    assert r == 255 and 120 <= g <= 135 and 120 <= b <= 135
    assert image.getpixel((15, 5)) == (255, 255, 255)
    la = Image.new("LA", (4, 4), (0, 0))
    assert decode(encoded(la, "PNG"), "la.png").image.getpixel((1, 1)) == (255, 255, 255)


def test_palette_with_transparency_and_one_bit_images():
    p = Image.new("P", (8, 8), 1)
    p.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    p.paste(0, (0, 0, 4, 8))
    data = encoded(p, "PNG", transparency=0)
    image = decode(data, "p.png").image
    assert image.getpixel((1, 1)) == (255, 255, 255)
    assert image.getpixel((6, 6)) == (10, 200, 30)
    one = Image.new("1", (8, 8), 1)
    assert decode(encoded(one, "PNG"), "1.png").image.getpixel((2, 2)) == (255, 255, 255)


def test_cmyk_jpeg_becomes_rgb():
    cmyk = Image.new("CMYK", (40, 30), (0, 255, 255, 0))  # pure red ink mix
    result = decode(encoded(cmyk, "JPEG", quality=95))
    r, g, b = result.image.getpixel((20, 15))
    assert r > 200 and g < 50 and b < 50


def test_srgb_and_broken_profiles_leave_pixels_alone():
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    image = Image.new("RGB", (16, 16), (200, 100, 50))
    plain = decode(encoded(image, "PNG"), "a.png")
    tagged = decode(encoded(image, "PNG", icc_profile=srgb.tobytes()), "a.png")
    assert tagged.image.getpixel((3, 3)) == plain.image.getpixel((3, 3)) == (200, 100, 50)
    broken = decode(encoded(image, "PNG", icc_profile=b"not a profile" * 10), "a.png")
    assert broken.image.getpixel((3, 3)) == (200, 100, 50)


def test_wide_gamut_profile_changes_pixels():
    folder = fixtures_dir("metadata", "orientation")
    data = (folder / "landscape_2.jpg").read_bytes()  # carries "Generic RGB Profile"
    result = decode(data)
    assert result.converted_from_profile == "Generic RGB Profile"
    with Image.open(io.BytesIO(data)) as raw:
        unconverted = raw.convert("RGB").transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    assert np.abs(small(result.image) - small(unconverted)).mean() > 0.5


def test_broken_exif_block_does_not_reject_sound_pixels():
    data = encoded(noisy_image((64, 48)), "JPEG", quality=90)
    junk = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff" + bytes(range(200))
    app1 = b"\xff\xe1" + struct.pack(">H", len(junk) + 2) + junk
    result = decode(data[:2] + app1 + data[2:])
    assert result.original_size == (64, 48)
    assert result.orientation == 1


def test_orientation_read_when_exif_is_otherwise_damaged():
    """Orientation 6 in IFD0, then an entry pointing far outside the block."""
    body = b"MM\x00*\x00\x00\x00\x08" + struct.pack(">H", 2)
    body += struct.pack(">HHIHH", 0x0112, 3, 1, 6, 0)
    body += struct.pack(">HHII", 0x010E, 2, 500, 0x7FFFFFF0)  # ImageDescription out of bounds
    body += b"\x00\x00\x00\x00"
    junk = b"Exif\x00\x00" + body
    app1 = b"\xff\xe1" + struct.pack(">H", len(junk) + 2) + junk
    data = encoded(noisy_image((64, 48)), "JPEG", quality=90)
    result = decode(data[:2] + app1 + data[2:])
    assert result.orientation == 6
    assert result.original_size == (48, 64)
