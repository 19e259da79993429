"""Draft (DCT-scaled) decoding: one decode at the size the pipeline needs, boxes in original coordinates."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from processors.decode import decode_image

LIMITS = dict(max_bytes=200 * 1024 * 1024, max_pixels=100_000_000)


def _jpeg(w: int, h: int, orientation: int = 1) -> bytes:
    rng = np.random.default_rng(1)
    im = Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=80, exif=exif)
    return buf.getvalue()


def test_default_is_full_resolution():
    d = decode_image(_jpeg(1200, 800), name="a.jpg", **LIMITS)
    assert d.image.size == (1200, 800) and d.original_size == (1200, 800) and d.scale == 1.0


@pytest.mark.parametrize("need, expected", [
    (dict(min_long_edge=600), (600, 400)),            # 1/2 keeps a 600 px long edge; 1/4 would not
    (dict(min_long_edge=150), (150, 100)),            # 1/8
    (dict(min_pixels=100_000), (600, 400)),           # 1/4 = 60,000 px is too few; 1/2 = 240,000
    (dict(min_long_edge=1000), (1200, 800)),          # no scaling keeps 1000 px: full size
    (dict(min_long_edge=300, min_pixels=200_000), (600, 400)),  # both needs must hold
])
def test_draft_picks_smallest_scale_that_keeps_the_need(need, expected):
    d = decode_image(_jpeg(1200, 800), name="a.jpg", **LIMITS, **need)
    assert d.image.size == expected
    assert d.original_size == (1200, 800)
    assert d.scale == pytest.approx(expected[0] / 1200)


def test_draft_applies_orientation_and_reports_upright_original_size():
    d = decode_image(_jpeg(1200, 800, orientation=6), name="a.jpg", **LIMITS, min_long_edge=600)
    assert d.image.size == (400, 600)
    assert d.original_size == (800, 1200)
    assert d.orientation == 6 and d.scale == pytest.approx(0.5)


def test_png_is_reduced_like_a_jpeg_draft():
    """Issue 16 (bounded memory): other formats are reduced by a whole factor under the same
    constraints as a JPEG draft, and say so in ``scale``."""
    buf = io.BytesIO()
    Image.new("RGB", (1200, 800), (10, 20, 30)).save(buf, "PNG")
    d = decode_image(buf.getvalue(), name="a.png", **LIMITS, min_long_edge=100)
    assert d.image.size == (150, 100) and d.scale == pytest.approx(0.125)
    d = decode_image(buf.getvalue(), name="a.png", **LIMITS)
    assert d.image.size == (1200, 800) and d.scale == 1.0


def test_draft_still_rejects_a_truncated_jpeg():
    from processors.decode import RejectedImage

    data = _jpeg(1200, 800)
    with pytest.raises(RejectedImage):
        decode_image(data[: len(data) // 2], name="a.jpg", **LIMITS, min_long_edge=100)


def test_analysis_on_a_draft_reports_boxes_in_original_coordinates(tmp_path):
    """A 6x-size copy of a fixture photo is analysed on a draft (1/2: still a 2048 px edge and 3 MP);
    its face boxes land at about 6x the boxes found in the original, and redaction gets them back
    in draft coordinates."""
    from tests.conftest import fixtures_dir

    from pipeline.analyse import analyse
    from pipeline.context import RunContext
    from pipeline.workspace import init_workspace

    src = fixtures_dir("faces", "events") / "kit_with_rose.jpg"
    ws = init_workspace(tmp_path / "ws")
    try:
        ctx = RunContext(ws).refresh()
        small = analyse(src.read_bytes(), name=src.name, ctx=ctx)
        with Image.open(src) as im:
            big = im.convert("RGB").resize((im.width * 6, im.height * 6), Image.Resampling.BICUBIC)
        buf = io.BytesIO()
        big.save(buf, "JPEG", quality=92)
        large = analyse(buf.getvalue(), name="big.jpg", ctx=ctx)
    finally:
        ws.close()
    assert large.scale == pytest.approx(0.5, abs=0.01)          # 3006x4200 -> 1503x2100
    assert large.size == big.size and large.image.size != big.size
    assert len(small.faces) >= 2
    for s in (f["box"] for f in small.faces):    # every face of the original, at 6x (detectors differ a little)
        size = 6 * min(s[2] - s[0], s[1] - s[3])
        assert any(all(abs(6 * a - b) <= 0.2 * size for a, b in zip(s, f["box"])) for f in large.faces), s
    on_image = large.faces_on_image()
    for f, g in zip(large.faces, on_image):
        top, right, bottom, left = g["box"]
        assert 0 <= left < right < large.image.width and 0 <= top < bottom < large.image.height
        assert abs(f["box"][1] * large.scale - right) <= 2


def test_one_strict_pass_gives_pillows_pixels(tmp_path):
    """JPEGs are checked and decoded in one strict libjpeg-turbo pass: the same pixels as Pillow's
    decode, full size and DCT-scaled, colour and grey; a CMYK JPEG still goes through Pillow."""
    import io

    import numpy as np
    from PIL import Image

    from processors.decode import decode_image

    rng = np.random.default_rng(5)
    base = (rng.integers(0, 256, (600, 800, 3), dtype=np.uint8) // 32 * 32).astype(np.uint8)
    for mode in ("RGB", "L", "CMYK"):
        buf = io.BytesIO()
        Image.fromarray(base).convert(mode).save(buf, "JPEG", quality=90)
        data = buf.getvalue()
        for edge, pixels in ((None, None), (200, 30_000)):
            got = decode_image(data, name="x.jpg", max_bytes=10**8, max_pixels=10**8, min_long_edge=edge, min_pixels=pixels)
            with Image.open(io.BytesIO(data)) as im:
                if edge:
                    assert got.image.size == (200, 150)  # 1/4: the smallest scale that keeps the need
                    im.draft(None, got.image.size)
                want = np.asarray(im.convert("RGB"))
            if mode != "CMYK":  # (Pillow's CMYK conversion is its own; only the path is checked there)
                assert np.array_equal(np.asarray(got.image), want), (mode, edge)
            assert got.image.size == (want.shape[1], want.shape[0])
