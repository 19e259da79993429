"""Phone-size photos (issue 21): decoded once, DCT-scaled to what the face detector needs, and
released from that one decode: at most 5 % below ``max_edge``, never above it, faces still redacted."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.conftest import fixtures_dir


def _phone_photo(size: tuple[int, int], with_face: bool = True) -> bytes:
    """A phone-size JPEG: a smooth gradient with a little noise, and a real face (fixture) pasted in."""
    w, h = size
    rng = np.random.default_rng(7)
    base = np.zeros((h, w, 3), np.uint8)
    base[...] = np.linspace(40, 200, w, dtype=np.uint8)[None, :, None]
    base = np.clip(base.astype(np.int16) + rng.integers(-6, 7, base.shape), 0, 255).astype(np.uint8)
    image = Image.fromarray(base)
    if with_face:
        with Image.open(fixtures_dir("faces", "events") / "obama1.jpg") as face:
            face = face.convert("RGB").resize((1200, 675))
        image.paste(face, (w // 3, h // 3))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture
def counted_decodes(monkeypatch):
    """Every decode_image call the analysis makes, with the size it decoded at."""
    import pipeline.analyse as analyse_mod

    calls = []
    real = analyse_mod.decode_image

    def counting(data, **kw):
        out = real(data, **kw)
        calls.append(out.image.size)
        return out

    monkeypatch.setattr(analyse_mod, "decode_image", counting)
    return calls


@pytest.mark.parametrize("size, decoded, released", [
    ((4032, 3024), (2016, 1512), 2016),   # halves to 2016 px (98 % of 2048): released at that size
    ((4400, 3300), (2200, 1650), 2048),   # halves to more than max_edge: resized down to it
    ((3000, 2000), (3000, 2000), 2048),   # halving would leave too few pixels for the detector
])
def test_one_decode_at_the_detector_size_and_the_release_from_it(workspace, tmp_path, counted_decodes,
                                                                  size, decoded, released):
    from pipeline.context import RunContext
    from pipeline.process import process_file

    photo = tmp_path / "IMG_0001.jpg"
    photo.write_bytes(_phone_photo(size))
    from pipeline.workspace import open_workspace

    ws = open_workspace(workspace)
    try:
        record = process_file(ws, photo, ctx=RunContext(ws))
    finally:
        ws.close()
    assert counted_decodes == [decoded]
    assert record["status"] == "released", record["reason"]
    (face,) = record["faces"]  # in the original's coordinates, inside the pasted face
    top, right, bottom, left = face["box"]
    assert size[0] // 3 <= left < right <= size[0] // 3 + 1200 and size[1] // 3 <= top < bottom <= size[1] // 3 + 675
    for rel in record["outputs"].values():
        with Image.open(workspace / rel) as out:
            assert max(out.size) == released
            assert abs(out.size[0] / out.size[1] - size[0] / size[1]) < 0.01
            # the face (nobody in this register: blurred everywhere) is redacted in the release
            k = max(out.size) / max(size)
            crop = np.asarray(out.convert("L").crop((int(left * k), int(top * k), int(right * k), int(bottom * k))))
            assert crop.std() < 25


def test_source_edge_gives_up_at_most_five_percent():
    from processors.output import source_edge

    assert source_edge(2048) == 1946
    assert source_edge(100) == 95
