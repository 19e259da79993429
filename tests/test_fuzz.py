"""Fuzz harness (Hypothesis) over the metadata container walkers and parsers, the decoder, the
format sniffer, the file-system walker of the audit and the display/CSV helpers of the gate.

Every target must finish with a result or the product's own exception (``RejectedImage``) — never
anything else — within a time bound (a hang guard: 20 s for an input of a few KB) and a memory bound
(1 GB peak for the whole test process). The default run has a fixed, small budget
(``CONSENT_FUZZ_EXAMPLES``, default 100 examples per target, derandomised so CI is repeatable);
``CONSENT_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py`` (random) or ``scripts/fuzz`` (atheris,
where it is installed) runs longer on demand.
"""
from __future__ import annotations

import os
import stat
import time

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from tests.fuzz_targets import TARGETS, seeds  # noqa: E402

EXAMPLES = int(os.environ.get("CONSENT_FUZZ_EXAMPLES", "100"))
LONG = EXAMPLES > 200
MEMORY_BOUND_KB = 1024 * 1024  # 1 GB more than before the input (VmHWM is in KB)
TIME_BOUND_S = 20.0            # per target and input (inputs are at most a few KB)

FUZZ = settings(max_examples=EXAMPLES, derandomize=not LONG, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def mutated(draw):
    """A seed file with a few random edits: byte flips, inserted runs, cut-offs, repeated slices."""
    data = bytearray(draw(st.sampled_from(seeds())))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "insert", "truncate", "repeat", "zero_length"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif op == "truncate":
            del data[pos:]
        elif op == "repeat" and data:
            end = min(len(data), pos + draw(st.integers(1, 512)))
            data[pos:pos] = data[pos:end] * draw(st.integers(1, 8))
        elif op == "zero_length" and pos + 4 <= len(data):
            data[pos + 2:pos + 4] = b"\x00\x00"  # a segment/chunk length of 0 or 2
    return bytes(data)


@st.composite
def jpeg_with_segments(draw):
    """A JPEG whose APPn/COM segments are random: odd lengths, XMP/EXIF/IPTC headers with junk bodies."""
    base = seeds()[0]
    heads = [b"Exif\x00\x00", b"http://ns.adobe.com/xap/1.0/\x00", b"Photoshop 3.0\x00",
             b"http://ns.adobe.com/xmp/extension/\x00", b"ICC_PROFILE\x00", b"MPF\x00", b""]
    segs = b""
    for _ in range(draw(st.integers(1, 5))):
        marker = draw(st.sampled_from([0xE0, 0xE1, 0xE2, 0xED, 0xEE, 0xFE, 0xDD, 0xD8, 0xD9]))
        body = draw(st.sampled_from(heads)) + draw(st.binary(max_size=300))
        length = draw(st.one_of(st.just(len(body) + 2), st.integers(0, 0xFFFF)))
        segs += bytes([0xFF, marker]) + length.to_bytes(2, "big") + body
    return base[:2] + segs + base[2:]


@st.composite
def xmp_packets(draw):
    """Random XML-ish XMP packets, inside and after a JPEG: unbalanced, nested, entity tricks."""
    pieces = [b"<x:xmpmeta>", b"</x:xmpmeta>", b"<rdf:RDF>", b"</rdf:RDF>", b"<rdf:li>", b"</rdf:li>",
              b"<!DOCTYPE x [<!ENTITY a 'aaaa'>]>", b"&a;", b"<dc:description>", b"Amelia Hart",
              b"\x00", b"<x:xapmeta", b"xmlns:x='adobe:ns:meta/'", b">", b"<", b"\xff\xfe"]
    body = b"".join(draw(st.lists(st.sampled_from(pieces), max_size=40)))
    return seeds()[0] + body


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def _reset_peak() -> int:
    """Reset this process's peak RSS (Linux: write 5 to /proc/self/clear_refs) and return the RSS now:
    the test process has loaded much else before, so the bound is on what one input adds."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass
    return _status_kb("VmRSS")


def _check_memory(baseline_kb: int):
    grown = _status_kb("VmHWM") - baseline_kb
    assert grown < MEMORY_BOUND_KB, f"peak memory grew by {grown / 1024:.0f} MB"


def _run_all(data: bytes) -> None:
    baseline = _reset_peak()
    for name, target in TARGETS.items():
        started = time.monotonic()
        target(data)
        # a hang guard, not a benchmark: one small input must never take seconds (budgets hold)
        assert time.monotonic() - started < TIME_BOUND_S, f"{name} took {time.monotonic() - started:.1f} s"
    _check_memory(baseline)


@FUZZ
@given(st.one_of(mutated(), jpeg_with_segments(), xmp_packets()))
def test_structured_inputs_never_escape(data):
    _run_all(data)


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_never_escape(data):
    _run_all(data)


def test_every_seed_is_understood():
    """The seeds are real files the parsers read (otherwise the mutations would test nothing)."""
    from processors.decode import decode_image
    from processors.metadata import inspect_metadata

    for data in seeds():
        decode_image(data, name="seed", max_bytes=1 << 24, max_pixels=1 << 22)
        assert inspect_metadata(data).found, "a seed carries metadata"


# --------------------------------------------------------------------------- the file-system walker

NAME_BYTES = st.binary(min_size=1, max_size=255).filter(lambda b: b"/" not in b and b"\x00" not in b
                                                         and b not in (b".", b".."))


@FUZZ
@given(st.lists(st.tuples(NAME_BYTES, st.sampled_from(["file", "dir", "link", "fifo", "dangling", "loop"])),
                min_size=1, max_size=8, unique_by=lambda t: t[0]))
def test_audit_walker_accounts_for_every_entry(tmp_path_factory, entries):
    """Any names (not UTF-8, 255 bytes, control characters) and any kind of entry: every one is
    listed once, each with a display form that is valid one-line UTF-8, and nothing is followed."""
    from pipeline.audit.files import walk
    from processors.gate import display

    root = tmp_path_factory.mktemp("walk")
    broot = os.fsencode(root)
    expected = set()
    for name, kind in entries:
        path = os.path.join(broot, name)
        if kind == "file":
            with open(path, "wb") as fh:
                fh.write(b"x")
        elif kind == "dir":
            os.mkdir(path)
            with open(os.path.join(path, b"inner.jpg"), "wb") as fh:
                fh.write(b"y")
            expected.add(os.path.join(name, b"inner.jpg"))
            continue
        elif kind == "link":
            os.symlink(b"/etc", path)
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "dangling":
            os.symlink(b"/nonexistent/nowhere", path)
        elif kind == "loop":
            os.symlink(broot, path)
        expected.add(name)
    seen = []
    for entry in walk([os.fsdecode(broot)]):
        shown = display(entry.path)
        shown.encode("utf-8")
        assert "\n" not in shown and "\r" not in shown
        seen.append(os.fsencode(entry.rel))
        if entry.kind == "file":
            assert stat.S_ISREG(os.lstat(entry.path).st_mode)
    assert sorted(seen) == sorted(expected)


# --------------------------------------------------------------------------- display and CSV cells

@FUZZ
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_display_is_always_printable_utf8(value):
    from processors.gate import display

    shown = display(value if isinstance(value, bytes) else os.fsencode(value) if "\x00" not in value else b"x")
    shown.encode("utf-8")
    assert not any(ch in shown for ch in "\n\r\t\x1b\x00")


@FUZZ
@given(st.text(max_size=60))
def test_no_csv_cell_can_start_a_formula(text):
    import csv
    import io

    from processors.gate import csv_row

    out = io.StringIO()
    csv.writer(out).writerow(csv_row([text, "x"]))
    cell = next(csv.reader(io.StringIO(out.getvalue())))[0]
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")) or cell == ""
