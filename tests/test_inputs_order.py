"""With several workers a batch starts with its biggest files (so the cores finish together)."""
from __future__ import annotations

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
