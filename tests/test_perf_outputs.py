"""Channels that get the same redactions share one encoding and one file on disk (issue 21), and each
channel's output stays independently replaceable by a re-render."""
from __future__ import annotations

import os

from PIL import Image

from tests.test_perf_phone_photos import _phone_photo


def test_channels_with_the_same_pixels_share_one_file_and_stay_independently_replaceable(workspace, tmp_path):
    from pipeline.context import RunContext
    from pipeline.process import process_file
    from pipeline.render import encode_channels, write_channels
    from pipeline.workspace import open_workspace

    photo = tmp_path / "IMG_0002.jpg"
    photo.write_bytes(_phone_photo((1600, 1200)))
    ws = open_workspace(workspace)
    try:
        record = process_file(ws, photo, ctx=RunContext(ws))
        assert record["status"] == "released", record["reason"]
        paths = [workspace / rel for rel in record["outputs"].values()]
        assert len(paths) == 4  # nobody in the register: the face is blurred on every channel alike
        first = paths[0].read_bytes()
        assert all(p.read_bytes() == first for p in paths)
        assert len({p.stat().st_ino for p in paths}) == 1  # one file, four names
        assert all(oct(p.stat().st_mode & 0o777) == "0o644" for p in paths)

        # A re-render of one channel (e.g. after a consent change) replaces that name only.
        with Image.open(paths[0]) as im:
            im.load()
            grey = Image.new("RGB", im.size, (128, 128, 128))
        channel = next(iter(record["outputs"]))
        new = encode_channels(ws.config, grey, [], [channel], texts=[])
        write_channels(ws, new, "unused", {}, existing={channel: record["outputs"][channel]})
        assert paths[0].read_bytes() == new[channel] != first
        assert all(p.read_bytes() == first for p in paths[1:])
        assert paths[0].stat().st_ino != paths[1].stat().st_ino
    finally:
        ws.close()


def test_different_bytes_are_never_linked(tmp_path):
    from processors.output import write_atomic, write_atomic_as

    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    write_atomic(a, b"first")
    write_atomic_as(b, b"second", a)
    assert a.read_bytes() == b"first" and b.read_bytes() == b"second"
    assert a.stat().st_ino != b.stat().st_ino
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
