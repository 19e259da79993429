"""Validate and decode one input photo into upright, full-resolution sRGB pixels.

Accepted: JPEG (including multi-picture MPO files from some cameras: the main
picture is used), PNG, WebP and HEIC/HEIF. Everything else is rejected with a
sentence that says what the file looks like and what to do. TIFF, GIF, BMP and
AVIF are deliberately *not* accepted: the product contract lists the four
formats above, and each extra decoder is more untrusted-input surface. Staff
are told to save such files as JPEG or PNG.

Animated images (animated WebP/PNG, multi-picture JPEG): only the first frame
is decoded, and only that frame is ever released.

Safety rules, in order:

1. the byte-size limit is checked before anything parses the file;
2. the file type is recognised from its content, never from its name;
3. the pixel count is read from the header and checked *before* decoding
   (Pillow's own decompression-bomb warning counts as a rejection too);
4. the whole image is decoded (``load()``); any decoder error is a rejection.
   JPEGs are additionally decoded once by libjpeg-turbo in strict mode
   (simplejpeg), because Pillow silently fills a truncated or corrupt JPEG
   with grey instead of failing. ``ImageFile.LOAD_TRUNCATED_IMAGES`` is never
   touched.
5. a broken EXIF block never rejects a photo whose pixels are sound: the
   orientation then comes from a defensive read of the Orientation tag, or
   no rotation at all.
"""
from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms, UnidentifiedImageError
from PIL import JpegImagePlugin, PngImagePlugin, WebPImagePlugin  # noqa: F401 - register formats

try:  # registers the "HEIF" format with Pillow
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF_AVAILABLE = True
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    HEIF_AVAILABLE = False

# Pillow format name -> the format we report.
# (Pillow's JPEG opener itself returns an "MPO" image for multi-picture JPEGs.)
ACCEPTED_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "HEIF": "HEIF"}
OPEN_FORMATS = ["JPEG", "PNG", "WEBP", "HEIF"]

DAMAGED = "The photo is damaged or incomplete ({detail}) — copy it again from the camera or phone."


class RejectedImage(Exception):
    """The input cannot be processed; ``reason`` is a plain sentence for a school admin."""

    def __init__(self, reason: str, *, code: str = "rejected"):
        super().__init__(reason)
        self.reason = reason
        # A short machine-readable tag: empty, too_big, too_many_pixels, not_an_image,
        # unsupported_type, damaged. Useful for statistics; `reason` is what people read.
        self.code = code


@dataclass
class DecodedImage:
    image: Image.Image  # RGB, orientation applied, full resolution, sRGB, empty .info
    format: str  # 'JPEG', 'PNG', 'WEBP', 'HEIF'
    original_size: tuple[int, int]  # (w, h) after orientation
    orientation: int = 1  # the EXIF orientation that was applied (1 = none)
    converted_from_profile: str | None = None  # description of the ICC profile converted to sRGB, if any
    # ``image.size / original_size``: 1.0 unless a draft decode (``min_long_edge``/``min_pixels``) was
    # asked for and the JPEG could be DCT-scaled by 1/2, 1/4 or 1/8.
    scale: float = 1.0


# --------------------------------------------------------------------------- sniffing

def sniff(data: bytes) -> tuple[str, str]:
    """Recognise a file by its first bytes.

    Returns ``(kind, description)`` where kind is one of the accepted formats
    ('JPEG', 'PNG', 'WEBP', 'HEIF'), 'image' for an image type we do not accept,
    or 'other' for anything that is not an image at all. ``description`` is a
    plain phrase ("a PDF document").
    """
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG", "a JPEG photo"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG", "a PNG image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP", "a WebP image"
    if head[4:8] == b"ftyp":
        brands = _ftyp_brands(data)
        if brands & {"heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs", "mif1", "msf1", "mif2"} \
                and not brands & {"avif", "avis"}:
            return "HEIF", "a HEIC/HEIF photo"
        if brands & {"avif", "avis"}:
            return "image", "an AVIF image"
        if brands & {"qt  ", "isom", "iso2", "mp41", "mp42", "m4v ", "3gp4", "3gp5", "3g2a", "avc1", "dash"}:
            return "other", "a video"
        if brands & {"M4A ", "M4B "}:
            return "other", "an audio file"
        return "other", "a video or other media file"
    if head.startswith(b"%PDF"):
        return "other", "a PDF document"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "image", "a TIFF image"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image", "a GIF image"
    if head.startswith(b"BM") and len(data) > 26:
        return "image", "a BMP image"
    if head.startswith(b"8BPS"):
        return "image", "a Photoshop document"
    if head[:4] == b"\x00\x00\x00\x0c" and head[4:8] == b"jP  ":
        return "image", "a JPEG 2000 image"
    if head.startswith(b"\xff\x0a") or head.startswith(b"\x00\x00\x00\x0cJXL "):
        return "image", "a JPEG XL image"
    if head.startswith(b"PK\x03\x04"):
        return "other", "a ZIP archive or Office document"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "other", "an old-style Office document"
    if head.startswith(b"{\\rtf"):
        return "other", "a Word (RTF) document"
    if head.startswith((b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!", b"BZh")):
        return "other", "a compressed archive"
    if head.startswith((b"MZ", b"\x7fELF")):
        return "other", "a program"
    if head[:4] == b"RIFF" and head[8:12] in (b"WAVE", b"AVI "):
        return "other", "a sound or video file"
    if head.startswith((b"ID3", b"OggS", b"fLaC")):
        return "other", "a sound file"
    text = _as_text(data[:4096])
    if text is not None:
        low = text.lstrip("\ufeff \t\r\n").lower()
        if low.startswith(("<!doctype html", "<html")):
            return "other", "a web page (HTML)"
        if "<svg" in low[:1024]:
            return "image", "an SVG drawing"
        return "other", "a text file"
    return "other", "an unknown kind of file"


def _ftyp_brands(data: bytes) -> set[str]:
    size = int.from_bytes(data[0:4], "big")
    size = min(max(size, 16), 256, len(data))
    brands = {data[8:12].decode("latin-1")}
    for off in range(16, size - 3, 4):
        brands.add(data[off:off + 4].decode("latin-1"))
    return brands


def _as_text(chunk: bytes) -> str | None:
    if not chunk:
        return None
    for enc in ("utf-8", "utf-16"):
        try:
            text = chunk.decode(enc)
        except UnicodeDecodeError:
            # A multi-byte character cut at the end of the chunk is still text.
            try:
                text = chunk[:-3].decode(enc)
            except UnicodeDecodeError:
                continue
        if enc == "utf-16" and not chunk.startswith((b"\xff\xfe", b"\xfe\xff")):
            continue
        printable = sum(ch.isprintable() or ch in "\r\n\t\f" for ch in text)
        if text and printable / len(text) > 0.95:
            return text
    return None


# --------------------------------------------------------------------------- decoding

def _fmt_int(n: int) -> str:
    return f"{n:,}"


def _megabytes(n: int) -> str:
    mb = n / (1024 * 1024)  # the config's max_file_mb counts 1 MB = 1024 × 1024 bytes
    return f"{mb:,.0f} MB" if mb >= 10 else f"{mb:,.1f} MB"


def decode_image(data: bytes, *, name: str, max_bytes: int, max_pixels: int,
                 min_long_edge: int | None = None, min_pixels: int | None = None) -> DecodedImage:
    """Validate and decode ``data`` (the bytes of the file called ``name``).

    By default the image is decoded at full resolution. Draft mode: with ``min_long_edge`` and/or
    ``min_pixels``, a JPEG is decoded DCT-scaled (1/2, 1/4 or 1/8: libjpeg skips the work) to the
    smallest size that still has at least that long edge and that many pixels; ``scale`` and
    ``original_size`` of the result say how it relates to the full picture. Validation is the same
    in both modes (the whole file is still checked). Other formats are always decoded in full.

    Raises :class:`RejectedImage` with a plain reason for anything that must not be processed;
    never raises anything else for a bad input.
    """
    if len(data) == 0:
        raise RejectedImage("The file is empty (0 bytes).", code="empty")
    if len(data) > max_bytes:
        raise RejectedImage(
            f"The file is too large ({_megabytes(len(data))}; the limit is {_megabytes(max_bytes)}). "
            "Export a smaller copy of the photo and try again.", code="too_big")

    kind, what = sniff(data)
    if kind == "other":
        raise RejectedImage(f"This is not a photo (looks like {what}).", code="not_an_image")
    if kind == "image":
        raise RejectedImage(
            f"This kind of image is not accepted (looks like {what}). "
            "Save it as JPEG or PNG and try again.", code="unsupported_type")
    if kind == "HEIF" and not HEIF_AVAILABLE:  # pragma: no cover
        raise RejectedImage("HEIC photos cannot be read on this computer (pillow-heif is missing).",
                            code="unsupported_type")

    try:
        return _decode(data, kind, max_pixels, (min_long_edge or 0, min_pixels or 0))
    except RejectedImage:
        raise
    except MemoryError:
        raise RejectedImage("The photo is too large to process on this computer. "
                            "Export a smaller copy and try again.", code="too_many_pixels") from None
    except Exception as exc:  # any decoder failure on untrusted input is a rejection
        raise RejectedImage(DAMAGED.format(detail=_damage_detail(kind, exc)), code="damaged") from exc


def header_pixels(path) -> int | None:
    """Width × height from a photo's header (nothing is decoded), or None when the file is not an
    image we accept or cannot be read: a cheap estimate of how much work the photo is."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path, formats=OPEN_FORMATS) as im:
                w, h = im.size
        return int(w) * int(h)
    except Exception:  # any unreadable or unknown file: no estimate (decode_image judges it later)
        return None


def _damage_detail(kind: str, exc: BaseException) -> str:
    label = _LABELS.get(kind, kind)
    msg = str(exc).lower()
    if "truncat" in msg or "premature end" in msg or "unexpected end" in msg or "eof" in msg:
        return f"truncated {label}"
    if "corrupt" in msg or "crc" in msg or "broken" in msg or "bad" in msg or "invalid" in msg:
        return f"corrupt {label}"
    return f"{label} could not be decoded"


def _too_many_pixels(w: int, h: int, max_pixels: int) -> RejectedImage:
    return RejectedImage(
        f"The image is too large ({_fmt_int(w)} × {_fmt_int(h)} pixels; the limit is "
        f"{max_pixels / 1_000_000:,.0f} megapixels). Export a smaller copy and try again.",
        code="too_many_pixels")


def _decode(data: bytes, kind: str, max_pixels: int, draft: tuple[int, int] = (0, 0)) -> DecodedImage:
    with warnings.catch_warnings():
        # Our own limit (checked before any pixel is decoded) is the policy. Pillow's warning
        # threshold (~89 MP) would otherwise print a warning for photos within the configured
        # limit; Pillow's hard DecompressionBombError (~179 MP) still rejects. Pillow also warns
        # about each damaged EXIF entry it skips: not something to print at a school admin.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.simplefilter("ignore", UserWarning)
        return _decode_quietly(data, kind, max_pixels, draft)


def _decode_quietly(data: bytes, kind: str, max_pixels: int, draft: tuple[int, int] = (0, 0)) -> DecodedImage:
    label = _LABELS.get(kind, kind)
    try:
        im = Image.open(io.BytesIO(data), formats=OPEN_FORMATS)
    except Image.DecompressionBombError as exc:
        # Pillow's hard ceiling, hit while reading the header: "Image size (N pixels) exceeds ..."
        m = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(m.group(1)) / 1_000_000:,.0f} megapixels; " if m else ""
        raise RejectedImage(
            f"The image is too large ({size}the limit is {max_pixels / 1_000_000:,.0f} megapixels). "
            "Export a smaller copy and try again.", code="too_many_pixels") from None
    except UnidentifiedImageError as exc:
        raise RejectedImage(DAMAGED.format(detail=f"unreadable {label}"), code="damaged") from exc
    with im:
        w, h = im.size
        if w <= 0 or h <= 0:
            raise RejectedImage(DAMAGED.format(detail=f"{label} without pixels"), code="damaged")
        if w * h > max_pixels:
            raise _too_many_pixels(w, h, max_pixels)
        fmt = ACCEPTED_FORMATS.get(im.format or "")
        if fmt is None:  # pragma: no cover - Image.open(formats=...) guarantees this
            raise RejectedImage(f"This kind of image is not accepted ({im.format}).", code="unsupported_type")

        if fmt == "WEBP" and w * h > WEBP_MAX_PIXELS:
            raise RejectedImage(
                f"This WebP image is too large to check safely ({w * h / 1_000_000:,.0f} megapixels; WebP images "
                f"are limited to {WEBP_MAX_PIXELS // 1_000_000} megapixels, as decoding them takes about 16 bytes "
                "a pixel). Save it as JPEG and try again.", code="too_many_pixels")
        strict = _strict_jpeg_pixels(data, (w, h), draft) if fmt == "JPEG" else None
        if fmt == "JPEG" and strict is None:
            strict_jpeg_check(data)
        elif fmt == "PNG":
            png_verify(data)

        if getattr(im, "n_frames", 1) > 1:
            im.seek(0)
        if strict is None:
            if fmt == "JPEG" and draft != (0, 0):
                _draft(im, *draft)
            im.load()
        icc = im.info.get("icc_profile") or None
        orientation = _orientation(im) if fmt != "HEIF" else 1  # libheif already applied irot/imir
        small = _reduce(im, *draft) if fmt != "JPEG" and draft != (0, 0) else None
        source = strict if strict is not None else small if small is not None else im
        pixels, converted = _to_rgb(source, icc)  # a new image, independent of the file
        del small, strict, source
    pixels = _apply_orientation(pixels, orientation)
    pixels.info = {}
    full = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
    return DecodedImage(image=pixels, format=fmt, original_size=full, orientation=orientation,
                        converted_from_profile=converted, scale=pixels.width / full[0])


def _draft(im: Image.Image, min_long_edge: int, min_pixels: int) -> None:
    """Ask libjpeg for the largest DCT scaling (8, 4, 2) whose result keeps ``min_long_edge``
    and ``min_pixels``; nothing when none does."""
    factor = _draft_factor(*im.size, min_long_edge, min_pixels)
    if factor > 1:
        im.draft(None, (im.size[0] // factor, im.size[1] // factor))


def _draft_factor(w: int, h: int, min_long_edge: int, min_pixels: int) -> int:
    if (min_long_edge, min_pixels) == (0, 0):
        return 1
    for factor in (8, 4, 2):
        sw, sh = w // factor, h // factor
        if sw >= 1 and sh >= 1 and max(sw, sh) >= min_long_edge and sw * sh >= min_pixels:
            return factor
    return 1


# The colour spaces libjpeg-turbo turns into RGB itself (CMYK and YCCK photos go through Pillow).
_STRICT_RGB = {"YCbCr": "RGB", "RGB": "RGB", "Gray": "GRAY"}


def _strict_jpeg_pixels(data: bytes, size: tuple[int, int], draft: tuple[int, int]) -> Image.Image | None:
    """The JPEG's pixels from one strict libjpeg-turbo decode (simplejpeg), DCT-scaled as draft mode
    would: the same check as :func:`strict_jpeg_check` (every entropy-coded byte decoded, warnings
    are errors) and the same pixels as Pillow's decode (bit-identical on the fixture and phone
    photos), in one pass over the file instead of two (a 12-megapixel phone photo: 24 ms instead
    of 18 + 30 ms). None for CMYK and YCCK photos and sizes that disagree with Pillow's header
    (Pillow decodes those, after the separate strict check)."""
    import simplejpeg

    try:
        height, width, colorspace, _sub = simplejpeg.decode_jpeg_header(data)
    except ValueError as exc:
        raise ValueError(f"bad JPEG header: {exc}") from exc
    target = _STRICT_RGB.get(colorspace)
    if target is None or (width, height) != tuple(size):
        return None
    factor = _draft_factor(width, height, *draft)
    arr = simplejpeg.decode_jpeg(data, colorspace=target, min_factor=factor, min_width=-(-width // factor),
                                 min_height=-(-height // factor), strict=True)
    return Image.fromarray(arr[..., 0] if target == "GRAY" else arr, "L" if target == "GRAY" else "RGB")


# Pillow's WebP decoder holds ~16 bytes a pixel at its peak (RGBA output, copied twice); JPEG, PNG
# and HEIF stay near 3-4 bytes a pixel once reduced (measured: 100 MP PNG 0.53 GB, 48 MP WebP 0.84 GB
# peak for a whole `pipeline process` run). This keeps a worker under 1 GB with the default limits.
WEBP_MAX_PIXELS = 32_000_000


def _reduce(im: Image.Image, min_long_edge: int, min_pixels: int) -> Image.Image | None:
    """The other formats' counterpart of JPEG draft mode (bounded memory, issue 16): the image
    reduced by the largest whole factor (box filter) that keeps ``min_long_edge`` and ``min_pixels``,
    so the full-size pixels are converted, turned and searched for faces at that size only — a
    100-megapixel PNG then peaks near 1x its decoded size instead of 3x. None when no factor fits."""
    w, h = im.size
    for factor in (8, 6, 4, 3, 2):
        sw, sh = w // factor, h // factor
        if sw >= 1 and sh >= 1 and max(sw, sh) >= min_long_edge and sw * sh >= min_pixels:
            try:
                if im.mode in ("RGBA", "LA"):
                    # Image.reduce() first makes a premultiplied full-size copy (2x the memory): reduce
                    # the bands as they are (edges of transparent areas may darken slightly; the
                    # picture is composited on white right after)
                    return im._new(im.im.reduce((factor, factor), (0, 0) + im.size))
                return im.reduce(factor)
            except (ValueError, NotImplementedError, AttributeError):  # modes reduce() does not take (P, 1 …)
                pass
            if im.mode not in ("P", "PA", "1"):
                return None
            alpha = im.mode == "PA" or "transparency" in im.info
            wide = im.convert("RGBA" if alpha else "L" if im.mode == "1" else "RGB")
            try:
                return wide.reduce(factor)
            except (ValueError, NotImplementedError):
                return None
            finally:
                del wide
    return None


_LABELS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "HEIF": "HEIC"}


def strict_jpeg_check(data: bytes) -> None:
    """Decode the JPEG once with libjpeg-turbo in strict mode: warnings such as
    "premature end of data segment" become errors. Pillow hides them."""
    import simplejpeg

    try:
        _h, _w, colorspace, _sub = simplejpeg.decode_jpeg_header(data)
    except ValueError as exc:
        raise ValueError(f"bad JPEG header: {exc}") from exc
    target = "CMYK" if colorspace in ("CMYK", "YCCK") else "GRAY"
    # DCT scaling (1/8) skips most of the pixel work; every entropy-coded byte is still decoded,
    # which is where truncation and corruption show.
    simplejpeg.decode_jpeg(data, colorspace=target, fastdct=True, fastupsample=True, min_factor=8,
                           min_height=1, min_width=1, strict=True)


def png_verify(data: bytes) -> None:
    """Check every PNG chunk's CRC up to IEND (Pillow's ``verify``)."""
    with Image.open(io.BytesIO(data), formats=["PNG"]) as probe:
        probe.verify()


# --------------------------------------------------------------------------- orientation

def _orientation(im: Image.Image) -> int:
    """The EXIF Orientation value (1..8), read defensively; 1 when absent or unreadable."""
    value = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about every damaged EXIF entry
            value = im.getexif().get(0x0112)
    except Exception:
        value = None
    if value is None:
        value = _orientation_from_raw_exif(im.info.get("exif"))
    try:
        value = int(value) if value is not None else 1
    except (TypeError, ValueError):
        value = 1
    return value if 1 <= value <= 8 else 1


def _orientation_from_raw_exif(raw) -> int | None:
    if not isinstance(raw, (bytes, bytearray)) or len(raw) < 8:
        return None
    try:
        import exifread

        if raw.startswith(b"Exif\x00\x00"):
            raw = raw[6:]
        tags = exifread.process_file(io.BytesIO(bytes(raw)), details=False, stop_tag="Orientation",
                                     extract_thumbnail=False)
        tag = tags.get("Image Orientation")
        return int(tag.values[0]) if tag is not None and tag.values else None
    except Exception:
        return None


_TRANSPOSE = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}


def _apply_orientation(im: Image.Image, orientation: int) -> Image.Image:
    """Same mapping as ``ImageOps.exif_transpose``, applied to pixels we already own."""
    for op in _TRANSPOSE.get(orientation, ()):
        im = im.transpose(op)
    return im


# Public names for code that needs the orientation rules without a full decode (e.g. draft thumbnails).
read_orientation = _orientation
apply_orientation = _apply_orientation


# --------------------------------------------------------------------------- colour

def _to_rgb(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, str | None]:
    """Any Pillow mode -> a new 8-bit RGB image (alpha composited on white), converted to sRGB
    via the ICC profile when there is one. Returns (image, description of the converted profile)."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        arr = np.asarray(im)
        if mode == "I" and arr.max(initial=0) <= 255:
            arr8 = arr.clip(0, 255).astype(np.uint8)
        else:
            arr8 = (arr.astype(np.uint32).clip(0, 65535) >> 8).astype(np.uint8)
        im = Image.fromarray(arr8, "L")
        mode = "L"
    elif mode == "F":
        arr = np.asarray(im)
        im = Image.fromarray((arr.clip(0.0, 1.0) * 255 + 0.5).astype(np.uint8), "L")
        mode = "L"

    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        mode = im.mode
    if mode == "PA":
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("LA", "La", "RGBA", "RGBa"):
        rgba = im.convert("RGBA")  # premultiplied modes are un-premultiplied here
        base = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        base.alpha_composite(rgba)
        im = base.convert("L" if mode in ("LA", "La") else "RGB")
        mode = im.mode
    if mode == "1":
        im = im.convert("L")
        mode = "L"

    converted = None
    if icc:
        result = _icc_to_srgb(im, icc)
        if result is not None:
            im, converted = result
            mode = im.mode
    # convert() always returns a new image (a copy when already RGB), detached from the file.
    return im.convert("RGB"), converted


_SRGB = None


def _srgb_profile():
    global _SRGB
    if _SRGB is None:
        _SRGB = ImageCms.createProfile("sRGB")
    return _SRGB


def _icc_to_srgb(im: Image.Image, icc: bytes):
    """Convert to sRGB with the embedded profile. A broken profile is ignored (pixels are
    then taken as sRGB): colour accuracy is not a reason to reject a photo."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        space = (profile.profile.xcolor_space or "").strip()
        description = (ImageCms.getProfileDescription(profile) or "").strip()
    except Exception:
        return None
    wanted = {"RGB": "RGB", "CMYK": "CMYK", "GRAY": "L"}.get(space)
    if wanted != im.mode:
        return None
    if im.mode == "RGB" and description.lower().startswith("srgb"):
        return None
    try:
        out = ImageCms.profileToProfile(im, profile, _srgb_profile(), outputMode="RGB",
                                        renderingIntent=ImageCms.Intent.PERCEPTUAL)
    except Exception:
        return None
    return out, description or space


__all__ = ["RejectedImage", "DecodedImage", "decode_image", "sniff", "read_orientation", "apply_orientation",
           "ACCEPTED_FORMATS"]
