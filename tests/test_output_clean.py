"""encode_jpeg releases pixels only (proven with exiftool); write_atomic never leaves half a file."""
from __future__ import annotations

import io
import os
import stat

import numpy as np
import pytest
from PIL import Image

from processors.decode import RejectedImage, decode_image
from processors.output import UnsafeOutput, check_pixels_only, encode_jpeg, write_atomic
from tests.conftest import exiftool, fixtures_dir
from tests.exif_allowlist import exiftool_tags, exiftool_tags_many, leaked_tags
from tests.metadata_samples import noisy_image, stuffed_jpeg

LIMITS = dict(max_bytes=200_000_000, max_pixels=100_000_000)


def release(data: bytes, dest, **params) -> None:
    decoded = decode_image(data, name=dest.name, **LIMITS)
    write_atomic(dest, encode_jpeg(decoded.image, **{"max_edge": 2048, "quality": 88, **params}))


# --------------------------------------------------------------------------- the leak proof

def test_every_decodable_fixture_is_released_clean(tmp_path):
    tool = exiftool()
    sources = sorted(p for p in fixtures_dir("metadata").rglob("*") if p.is_file())
    sources += [stuffed_jpeg(tmp_path / "stuffed.jpg", tool)]
    out = tmp_path / "out"
    out.mkdir()
    released = {}
    for src in sources:
        dest = out / f"{src.parent.name}_{src.stem}.jpg"
        try:
            release(src.read_bytes(), dest)
        except RejectedImage:
            continue
        released[src] = dest
    assert len(released) >= 25
    # The control: the sources do leak, so the allow-list is not vacuous.
    controls = [s for s in released if s.name in ("DSCN0010.jpg", "stuffed.jpg", "IMG_5195.HEIC")]
    for src, tags in zip(controls, exiftool_tags_many(controls, tool)):
        assert leaked_tags(tags), src.name
    for (src, dest), tags in zip(released.items(), exiftool_tags_many(released.values(), tool)):
        assert leaked_tags(tags) == [], src.name
        assert tags["File:FileType"] == "JPEG"


def test_the_allow_list_catches_leaks(tmp_path):
    tool = exiftool()
    path = stuffed_jpeg(tmp_path / "s.jpg", tool)
    leaks = " ".join(leaked_tags(exiftool_tags(path, tool)))
    for needle in ("GPS", "XMP", "IPTC", "Comment", "ThumbnailImage", "Artist", "SerialNumber", "PersonInImage"):
        assert needle in leaks, needle
    dense = tmp_path / "dpi.jpg"
    noisy_image().save(dense, "JPEG", dpi=(300, 300))
    assert any("XResolution" in t for t in leaked_tags(exiftool_tags(dense, tool)))


def test_pixels_survive_and_info_cannot_leak():
    image = noisy_image((200, 150))
    image.info.update({"exif": b"Exif\x00\x00MM\x00*", "icc_profile": b"x" * 200, "comment": b"Amelia Hart",
                       "dpi": (300, 300), "xmp": b"<x:xmpmeta/>"})
    data = encode_jpeg(image, max_edge=2048, quality=95)
    check_pixels_only(data)
    with Image.open(io.BytesIO(data)) as out:
        out.load()
        assert out.size == (200, 150)
        assert "exif" not in out.info and "icc_profile" not in out.info and "comment" not in out.info
        assert out.info.get("dpi") in (None, (1, 1))
        smooth = np.asarray(image.resize((50, 38)), dtype=float)
        assert np.abs(np.asarray(out.resize((50, 38)), dtype=float) - smooth).mean() < 12


def test_check_pixels_only_refuses_files_with_metadata():
    root = fixtures_dir("metadata")
    for name in ("DSCN0010.jpg", "Canon_40D.jpg", "long_description.jpg"):
        with pytest.raises(UnsafeOutput):
            check_pixels_only((root / name).read_bytes())
    with pytest.raises(UnsafeOutput):
        check_pixels_only(b"\x89PNG\r\n\x1a\n")
    with_density = io.BytesIO()
    noisy_image().save(with_density, "JPEG", dpi=(300, 300))
    check_pixels_only(with_density.getvalue())  # a JFIF density is structure, not a leak…
    with_comment = io.BytesIO()
    noisy_image().save(with_comment, "JPEG", comment="Amelia Hart")
    with pytest.raises(UnsafeOutput):
        check_pixels_only(with_comment.getvalue())


def test_jfif_thumbnail_is_refused():
    data = bytearray(encode_jpeg(noisy_image(), max_edge=100, quality=80))
    app0 = data.find(b"JFIF\x00")
    data[app0 + 12:app0 + 14] = b"\x01\x01"  # claim a 1x1 thumbnail
    with pytest.raises(UnsafeOutput):
        check_pixels_only(bytes(data))


# --------------------------------------------------------------------------- resizing

@pytest.mark.parametrize("size, max_edge, expected", [
    ((3000, 1000), 2048, (2048, 683)),
    ((1000, 3000), 2048, (683, 2048)),
    ((2048, 1536), 2048, (2048, 1536)),
    ((640, 480), 2048, (640, 480)),  # never upscaled
    ((5000, 3), 1000, (1000, 1)),
])
def test_longest_edge_is_limited(size, max_edge, expected):
    image = Image.new("RGB", size, (10, 120, 200))
    with Image.open(io.BytesIO(encode_jpeg(image, max_edge=max_edge, quality=85))) as out:
        assert out.size == expected


def test_quality_is_validated():
    with pytest.raises(ValueError):
        encode_jpeg(noisy_image(), max_edge=100, quality=0)


# --------------------------------------------------------------------------- atomic writes

def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_write_atomic_writes_complete_file_with_mode(tmp_path):
    dest = tmp_path / "2026-11-25_7f3a9c.jpg"
    write_atomic(dest, b"first", mode=0o640)
    assert dest.read_bytes() == b"first"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o640
    write_atomic(dest, b"second version")
    assert dest.read_bytes() == b"second version"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == [dest.name]


def test_temp_file_is_hidden_in_the_same_folder(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((os.fspath(src), os.fspath(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    dest = tmp_path / "a.jpg"
    write_atomic(dest, b"data")
    (src, dst), = seen
    assert os.path.dirname(src) == str(tmp_path) and dst == str(dest)
    name = os.path.basename(src)
    assert name.startswith(".") and name.endswith(".tmp")


@pytest.mark.parametrize("failing", ["fsync", "replace", "chmod"])
def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch, failing):
    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, boom)
    dest = tmp_path / "out.jpg"
    with pytest.raises(OSError):
        write_atomic(dest, b"x" * 10000)
    monkeypatch.undo()
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


def test_interrupted_overwrite_keeps_the_old_file(tmp_path, monkeypatch):
    dest = tmp_path / "out.jpg"
    write_atomic(dest, b"old complete file")

    def boom(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        write_atomic(dest, b"new file that never lands")
    monkeypatch.undo()
    assert dest.read_bytes() == b"old complete file"
    assert _leftovers(tmp_path) == []


def test_unwritable_folder_raises_and_leaves_nothing(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can write to read-only folders")
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    try:
        with pytest.raises(PermissionError):
            write_atomic(folder / "a.jpg", b"data")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)
