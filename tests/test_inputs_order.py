"""With several workers a batch starts with its most work (so the cores finish together)."""
from __future__ import annotations

import numpy as np
from PIL import Image

from pipeline.batch.inputs import largest_first


def test_largest_first_keeps_every_input_and_the_order_of_equal_sizes(tmp_path):
    sizes = {"a.jpg": 10, "b.jpg": 300, "c.jpg": 10, "d.jpg": 5000}
    paths = []
    for name, size in sizes.items():
        (tmp_path / name).write_bytes(b"x" * size)
        paths.append(tmp_path / name)
    gone = tmp_path / "vanished.jpg"  # removed between listing and ordering: kept, never dropped
    ordered = largest_first(paths + [gone])
    assert [p.name for p in ordered] == ["d.jpg", "b.jpg", "a.jpg", "c.jpg", "vanished.jpg"]


def test_pixels_not_bytes_decide_the_order(tmp_path):
    """A big flat photo is a small file but a lot of work; a small noisy one the reverse."""
    flat = tmp_path / "flat.jpg"
    Image.fromarray(np.full((1200, 1600, 3), 128, np.uint8)).save(flat, quality=90)
    noisy = tmp_path / "noisy.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (300, 400, 3), dtype=np.uint8)).save(noisy, quality=95)
    assert flat.stat().st_size < noisy.stat().st_size
    assert [p.name for p in largest_first([noisy, flat])] == ["flat.jpg", "noisy.jpg"]


def test_clips_come_first(tmp_path):
    photo = tmp_path / "photo.jpg"
    Image.fromarray(np.zeros((600, 800, 3), np.uint8)).save(photo)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 64)
    assert [p.name for p in largest_first([photo, clip])] == ["clip.mp4", "photo.jpg"]
