"""Issue 16: metadata parsing has a budget per file (XMP bytes, EXIF bytes, text chunks and
comments, blocks, time). Whatever is over it is recorded (``metadata_not_read`` and a problem in
plain words), never parsed, so a file built to be expensive costs little; normal files are read in
full."""
from __future__ import annotations

import resource
import struct
import zlib

from processors.metadata import inspect_metadata
from tests.fuzz_targets import _png_chunk, seeds
from tests.hostile_helpers import small_jpeg, xmp_packet


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_normal_files_are_read_in_full():
    for data in seeds():
        report = inspect_metadata(data)
        assert "metadata_not_read" not in report.found
        assert "xmp_person_names" in report.found or "exif" in report.found


def test_an_xmp_packet_over_the_budget_is_recorded_not_parsed():
    data = small_jpeg() + xmp_packet(600_000, word=b"Amelia Hart")  # ~17 MB after the end of the image
    report = inspect_metadata(data)
    assert {"xmp", "metadata_not_read"} <= set(report.found)
    assert any("not read" in p and "MB" in p for p in report.problems)
    assert not report.texts  # nothing of the packet was parsed


def test_many_packets_are_not_even_copied():
    packets = b"".join(xmp_packet(20_000, word=b"w%03d" % i) for i in range(40))  # 40 different packets, ~17 MB
    before = _rss_mb()
    report = inspect_metadata(small_jpeg() + packets)
    assert "metadata_not_read" in report.found
    assert _rss_mb() - before < 200


def test_a_thousand_ztxt_bombs_cost_no_more_than_one():
    png = seeds()[2]
    bomb = zlib.compress(b"A" * 4 * 1024 * 1024, 9)
    chunks = b"".join(_png_chunk(b"zTXt", b"Comment%d\x00\x00" % i + bomb) for i in range(300))
    before = _rss_mb()
    report = inspect_metadata(png[:33] + chunks + png[33:])
    assert "metadata_not_read" in report.found
    assert sum(len(v) for v in report.texts.values()) <= 4 * 1024 * 1024 + 100
    assert _rss_mb() - before < 200   # 300 x 4 MB would be 1.2 GB


def test_thousands_of_jpeg_comments_are_capped():
    j = seeds()[0]
    com = b"".join(b"\xff\xfe" + struct.pack(">H", 4002) + b"Amelia Hart " * 333 + b"A" * 4 for _ in range(2000))
    report = inspect_metadata(j[:2] + com + j[2:])
    assert "metadata_not_read" in report.found and "comment" in report.found
    assert len(report.texts.get("comment", "")) <= 4 * 1024 * 1024
