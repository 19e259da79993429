"""Fuzz targets shared by the Hypothesis tests (tests/test_fuzz.py) and the atheris runner (scripts/fuzz).

Each target takes untrusted bytes and must either succeed or raise the product's own exception
(``RejectedImage`` for the decoder); anything else is a bug. ``seeds()`` gives small valid files of
every accepted container (JPEG with EXIF/XMP/IPTC/COM, PNG with text chunks, WebP with EXIF/XMP,
HEIF) for the mutators to start from, so mutations get past the magic numbers.
"""
from __future__ import annotations

import io
import struct
import zlib
from functools import lru_cache

MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 4_000_000

XMP = (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
       b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
       b'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
       b'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">Amelia Hart at sports day</rdf:li></rdf:Alt>'
       b'</dc:description><Iptc4xmpExt:PersonInImage><rdf:Bag><rdf:li>Amelia Hart</rdf:li></rdf:Bag>'
       b'</Iptc4xmpExt:PersonInImage></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


def _image():
    from PIL import Image

    im = Image.new("RGB", (24, 16), (120, 80, 40))
    for x in range(24):
        im.putpixel((x, x % 16), (255, 255, 255))
    return im


def _exif() -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[0x010E] = "Amelia Hart"      # ImageDescription
    exif[0x0112] = 6                  # Orientation
    exif[0x013B] = "Photographer"     # Artist
    return exif.tobytes()


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


@lru_cache(maxsize=1)
def seeds() -> tuple[bytes, ...]:
    """Small valid files of each container, carrying metadata."""
    im = _image()
    out = []
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=80, exif=_exif())
    jpeg = buf.getvalue()
    iptc = b"Photoshop 3.0\x008BIM\x04\x04\x00\x00" + struct.pack(">I", 16) + b"\x1c\x02\x78\x00\x0bAmelia Hart" + b"\x00"
    extra = (_segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + XMP) + _segment(0xED, iptc)
             + _segment(0xFE, b"Amelia Hart, Y4"))
    out.append(jpeg[:2] + extra + jpeg[2:])
    out.append(jpeg + XMP)  # an XMP packet after the end-of-image marker
    buf = io.BytesIO()
    im.save(buf, "PNG")
    png = buf.getvalue()
    text = (_png_chunk(b"tEXt", b"Description\x00Amelia Hart") +
            _png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + XMP) +
            _png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"Amelia Hart")) +
            _png_chunk(b"eXIf", _exif()[6:] if _exif().startswith(b"Exif") else _exif()))
    out.append(png[:33] + text + png[33:])
    buf = io.BytesIO()
    im.save(buf, "WEBP", exif=_exif(), xmp=XMP)
    out.append(buf.getvalue())
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        buf = io.BytesIO()
        im.save(buf, "HEIF", exif=_exif(), xmp=XMP)
        out.append(buf.getvalue())
    except Exception:  # pragma: no cover - pillow-heif without an encoder
        pass
    return tuple(out)


def metadata_target(data: bytes) -> None:
    """The container walkers and metadata parsers: ``inspect_metadata`` never raises."""
    from processors.metadata import inspect_metadata

    report = inspect_metadata(data, "fuzz.jpg")
    assert isinstance(report.found, list)
    for key, value in report.texts.items():
        assert isinstance(key, str) and isinstance(value, str)
        value.encode("utf-8")  # every text can be stored and shown


def decode_target(data: bytes) -> None:
    """The decoder: a decoded image, or ``RejectedImage`` — nothing else."""
    from processors.decode import RejectedImage, decode_image

    try:
        decoded = decode_image(data, name="fuzz.jpg", max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS,
                               min_long_edge=64)
    except RejectedImage as exc:
        assert str(exc)
        return
    w, h = decoded.image.size
    assert w > 0 and h > 0 and decoded.image.mode == "RGB"


def sniff_target(data: bytes) -> None:
    from processors.decode import sniff

    kind, what = sniff(data[:4096])
    assert isinstance(kind, str) and isinstance(what, str)


TARGETS = {"metadata": metadata_target, "decode": decode_target, "sniff": sniff_target}
