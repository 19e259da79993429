"""Hostile inputs (issue 16), small or sparse so the tests stay fast, and a CLI runner that bounds
each command: no traceback on any stream, finished within ``TIME_BOUND`` seconds (a hang guard,
not a benchmark) and within ``MEMORY_BOUND_MB`` of peak resident memory per process (measured inside
the command's own process: its VmHWM, and ``getrusage(RUSAGE_CHILDREN)`` for its workers)."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TIME_BOUND = 60
MEMORY_BOUND_MB = 1024
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Runs ``pipeline …`` and, at exit, writes the peak RSS (KB) of this process and of its children.
_WRAPPER = r"""
import atexit, os, resource, sys
def _report():
    # VmHWM: this process's own peak since exec (ru_maxrss would carry the test runner's peak over
    # the fork); the workers' peaks come from RUSAGE_CHILDREN (they are forked from this process)
    me = 0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                me = int(line.split()[1])
    if not me:
        me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(os.environ["HOSTILE_RSS_FILE"], "w") as fh:
        fh.write(f"{me} {kids}")
atexit.register(_report)
sys.argv = ["pipeline", *sys.argv[1:]]
from pipeline.cli import main
main()
"""


@dataclass
class Run:
    args: list
    returncode: int
    stdout: str
    stderr: str
    peak_mb: float

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip().startswith(("{", "["))]


def run_cli(args: list, *, cwd: Path | None = None, tmp: Path, env: dict | None = None,
            input: bytes | None = None) -> Run:
    """Run ``pipeline *args`` in a fresh process and check the bounds every hostile run must keep."""
    rss_file = tmp / f".rss-{os.getpid()}-{abs(hash(tuple(map(str, args))))}"
    full_env = {**os.environ, "HOSTILE_RSS_FILE": str(rss_file), "COLUMNS": "200", **(env or {})}
    full_env.pop("PIPELINE_DEBUG", None)
    argv = [sys.executable, "-c", _WRAPPER, *[a if isinstance(a, bytes) else str(a) for a in args]]
    proc = subprocess.run(argv, cwd=cwd, env=full_env, capture_output=True, timeout=TIME_BOUND, input=input)
    out = proc.stdout.decode("utf-8")   # every stream must be valid UTF-8 (display forms, never raw bytes)
    err = proc.stderr.decode("utf-8")
    me, kids = (int(v) for v in rss_file.read_text().split())
    rss_file.unlink()
    run = Run([str(a) for a in args], proc.returncode, out, err, max(me, kids) / 1024)
    assert "Traceback" not in out and "Traceback" not in err, f"{args}: {err[-3000:]}"
    assert run.peak_mb < MEMORY_BOUND_MB, f"{args}: peak {run.peak_mb:.0f} MB"
    return run


def formula_cells(csv_text: str) -> list[str]:
    import csv

    return [cell for row in csv.reader(io.StringIO(csv_text)) for cell in row if cell.startswith(FORMULA_START)]


def small_jpeg(colour=(90, 120, 200), size=(64, 48), exif: bool = False) -> bytes:
    from PIL import Image

    im = Image.new("RGB", size, colour)
    buf = io.BytesIO()
    if exif:
        ex = Image.Exif()
        ex[0x010E] = "Sports day"
        im.save(buf, "JPEG", quality=85, exif=ex.tobytes())
    else:
        im.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def xmp_packet(n_items: int, word: bytes = b"sports") -> bytes:
    """A valid XMP packet of about ``n_items * (17 + len(word))`` bytes (one rdf:li per item): costly to parse in full."""
    head = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Bag>')
    tail = b"</rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>"
    return head + (b"<rdf:li>" + word + b"</rdf:li>") * n_items + tail


def write_xmp_bomb(path: Path, total_mb: int, packets: int) -> None:
    """A JPEG followed by ``packets`` XMP packets after its end-of-image marker, ``total_mb`` in all."""
    per = total_mb * 1024 * 1024 // packets
    with open(path, "wb") as fh:
        fh.write(small_jpeg())
        for i in range(packets):   # each packet different, so none is skipped as a repeat
            word = b"word%02d" % i
            fh.write(xmp_packet((per - 300) // (17 + len(word)), word=word))


def long_name(total_bytes: int, ext: str = ".jpg") -> bytes:
    return b"n" * (total_bytes - len(ext)) + ext.encode()


def make_hostile_tree(root: Path, outside: Path) -> dict[bytes, str]:
    """The hostile set of the issue, under ``root``. Returns {name (bytes, relative): what it is}."""
    root.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    b = os.fsencode(root)
    made: dict[bytes, str] = {}

    def put(name: bytes, data: bytes, what: str) -> None:
        with open(os.path.join(b, name), "wb") as fh:
            fh.write(data)
        made[name] = what

    put(b"ok.jpg", small_jpeg(), "photo")
    put(b"caf\xe9.jpg", small_jpeg((200, 60, 60)), "non-UTF-8 name")
    put(b"new\nline.jpg", small_jpeg((60, 200, 60)), "newline in name")
    put(b"\x1b[31mred.jpg", small_jpeg((60, 60, 60)), "escape code in name")
    put(b"=1+1.jpg", small_jpeg((10, 20, 30)), "formula name")
    put(b"@SUM(1).jpg", small_jpeg((30, 20, 10)), "formula name")
    put(b"-2+3.jpg", small_jpeg((15, 25, 35)), "formula name")
    for n in (251, 253, 255):
        put(long_name(n), small_jpeg((n % 255, 100, 100)), f"{n}-byte name")
    # the 255-byte photo's stem caption: <stem>.txt fits, <name>.txt would not (never built)
    stem = long_name(255)[:-4]
    put(stem + b".txt", b"Sports day\n", "caption sidecar")
    put(b"empty.jpg", b"", "empty")
    put(b"truncated.jpg", small_jpeg()[:300], "truncated")
    put(b"xmp15.jpg", small_jpeg() + xmp_packet(15 * 1024 * 1024 // 25), "15 MB XMP packet after EOI")
    # a 1 GB sparse caption of NULs next to a photo
    put(b"nul.jpg", small_jpeg((1, 2, 3)), "photo with a 1 GB caption")
    with open(os.path.join(b, b"nul.jpg.txt"), "wb") as fh:
        fh.truncate(1 << 30)
    made[b"nul.jpg.txt"] = "1 GB sparse caption sidecar"
    os.mkfifo(os.path.join(b, b"pipe.jpg"))
    made[b"pipe.jpg"] = "FIFO"
    (outside / "target.jpg").write_bytes(small_jpeg((5, 5, 5)))
    (outside / "folder").mkdir(exist_ok=True)
    (outside / "folder" / "inside.jpg").write_bytes(small_jpeg((6, 6, 6)))
    os.symlink(outside / "target.jpg", os.path.join(b, b"link.jpg"))
    made[b"link.jpg"] = "symlink to a photo"
    os.symlink(outside / "folder", os.path.join(b, b"linked folder"))
    made[b"linked folder"] = "symlinked folder"
    os.symlink(b"/nonexistent/caf\xe9.jpg", os.path.join(b, b"dangling.jpg"))
    made[b"dangling.jpg"] = "dangling link with a non-UTF-8 target"
    return made
