"""Where the time of `pipeline process` goes, per step, on the 16 fixture photos and on phone photos.

    .venv/bin/python benchmarks/time_per_step.py            # 16 fixture photos + 8 phone photos
    .venv/bin/python benchmarks/time_per_step.py --phone 0  # fixture photos only

Each workload runs the real command in this process with one worker (``--workers 1``: the
coordinator analyses every photo itself) and one thread per library, so the CPU seconds of each step
add up. Steps are measured by wrapping the functions that do them (``time.process_time`` around
each call), not by sampling:

- CenterFace in int8 / in float (every ONNX Runtime run of each, with the megapixels it saw),
- text detection and text recognition (``processors.text.engine``),
- face encodings (dlib's points, chips and the recognition network),
- decoding, rendering the channels (redaction, resizing, JPEG encoding);

"start-up" is the imports and model loading before the first photo (what a batch pays once);
"everything else" is the rest (metadata, names, decisions, the database, writing files).

Writes ``benchmarks/results/time_per_step.md`` (and prints it).
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
FIXTURES = ROOT.parent / "shared" / "fixtures" / "faces"
RESULTS = ROOT / "benchmarks" / "results"

STEPS = ("CenterFace int8", "CenterFace float", "text detection", "text recognition", "face encodings",
         "decode", "render channels")


class Meter:
    """CPU seconds (and megapixels) per step, from wrapped functions; nested calls are not double-counted."""

    def __init__(self):
        self.seconds: Counter = Counter()
        self.megapixels: Counter = Counter()
        self._depth = 0

    def wrap(self, owner, name: str, step: str, pixels=None):
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            outer = self._depth == 0
            self._depth += 1
            started = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                self._depth -= 1
                if outer:
                    self.seconds[step] += time.process_time() - started
                    if pixels is not None:
                        self.megapixels[step] += pixels(*args) / 1e6

        setattr(owner, name, timed)


def instrument(meter: Meter) -> None:
    """Wrap each step where the pipeline calls it (several modules import the functions by name)."""
    from pipeline import analyse, render, text_in_picture
    from processors import centerface, centerface_int8
    from processors.text import engine

    original_run = centerface._run

    def run(session, img, threshold):
        step = "CenterFace int8" if session is centerface_int8.session() else "CenterFace float"
        started = time.process_time()
        try:
            return original_run(session, img, threshold)
        finally:
            meter.seconds[step] += time.process_time() - started
            meter.megapixels[step] += img.shape[0] * img.shape[1] / 1e6

    centerface._run = run

    def detector_pixels(rgb, long_edge=engine.DETECT_LONG_EDGE):
        h, w = rgb.shape[:2]
        long_edge = max(long_edge, engine.detect_edge(h, w))
        return h * w * min(1.0, long_edge / max(h, w)) ** 2

    meter.wrap(engine, "detect_lines", "text detection", detector_pixels)
    original_read = text_in_picture.read_lines

    def read_lines(rgb, **kwargs):
        before = meter.seconds["text detection"]
        started = time.process_time()
        try:
            return original_read(rgb, **kwargs)
        finally:
            spent = time.process_time() - started
            meter.seconds["text recognition"] += spent - (meter.seconds["text detection"] - before)

    text_in_picture.read_lines = read_lines
    meter.wrap(analyse, "encode_detections", "face encodings")
    meter.wrap(analyse, "decode_image", "decode")
    meter.wrap(render, "encode_channels", "render channels")


def workspace(tmp: Path) -> Path:
    from perf import REGISTER

    tmp.mkdir(parents=True, exist_ok=True)
    ws = tmp / "ws"
    (tmp / "register.csv").write_text(REGISTER, encoding="utf-8")
    cli = [sys.executable, "-m", "pipeline.cli"]
    for args in (["init", str(ws)], ["--workspace", str(ws), "consent", "import", str(tmp / "register.csv")],
                 ["--workspace", str(ws), "consent", "enrol", str(FIXTURES / "enrol")]):
        subprocess.run(cli + args, check=True, capture_output=True, cwd=ROOT)
    return ws


def profile(photos: Path, tmp: Path) -> tuple[dict, float, float, int]:
    """Run the command on ``photos`` in a child Python (fresh imports); returns its step table."""
    ws = workspace(tmp)
    code = (
        "import json, sys, time; sys.path.insert(0, %r); t0 = time.process_time()\n"
        "import time_per_step as P\n"
        "from pipeline.batch.executor import worker_setup\n"
        "worker_setup(True, True)\n"
        "m = P.Meter(); P.instrument(m); t1 = time.process_time()\n"
        "from pipeline.cli.main import main\n"
        "sys.argv = ['pipeline', '--workspace', %r, 'process', %r, '--json', '--workers', '1']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps({'seconds': m.seconds, 'megapixels': m.megapixels, 'startup': t1 - t0,"
        " 'total': time.process_time() - t0}), file=sys.stderr)\n"
    ) % (str(ROOT / "benchmarks"), str(ws), str(photos))
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - started
    if out.returncode not in (0, 1):
        raise SystemExit(out.stderr[-3000:])
    import json

    result = json.loads(out.stderr.strip().splitlines()[-1])
    shutil.rmtree(ws, ignore_errors=True)
    return result, wall, result["total"], len(list(photos.iterdir()))


def table(name: str, result: dict, n: int) -> list[str]:
    seconds, mp = result["seconds"], result["megapixels"]
    work = result["total"] - result["startup"]
    rows = [f"**{name}** ({n} photos): {result['total']:.2f} s of CPU in all; start-up (imports, models) "
            f"{result['startup']:.2f} s; the photos {work:.2f} s.", "",
            "| step | CPU s | share of the photos' time | megapixels seen | ms per megapixel |",
            "|---|---:|---:|---:|---:|"]
    for step in STEPS:
        s = seconds.get(step, 0.0)
        m = mp.get(step)
        rows.append(f"| {step} | {s:.2f} | {100 * s / work:.0f} % | {f'{m:.1f}' if m else '—'} | "
                    f"{f'{1000 * s / m:.0f}' if m else '—'} |")
    rest = work - sum(seconds.get(s, 0.0) for s in STEPS)
    rows.append(f"| everything else | {rest:.2f} | {100 * rest / work:.0f} % | | |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--phone", type=int, default=8, help="phone-size photos to make (0: none)")
    ap.add_argument("--output", default=str(RESULTS / "time_per_step.md"))
    args = ap.parse_args()
    if not FIXTURES.is_dir():
        raise SystemExit(f"The fixture photos are missing: expected {FIXTURES}.")
    from perf import stage

    tmp = Path(tempfile.mkdtemp(prefix="profile-"))
    try:
        photos, _ = stage(tmp)
        lines = ["# Where the time of `pipeline process` goes (`benchmarks/time_per_step.py`)", "",
                 f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')}: {os.cpu_count()} CPU cores, Python "
                 f"{platform.python_version()}; one worker, one thread per library, CPU seconds per step "
                 f"(load average before: {os.getloadavg()[0]:.1f}).", ""]
        result, _, _, n = profile(photos, tmp / "a")
        lines += table("16 fixture photos", result, n) + [""]
        if args.phone:
            from schoolday import make_photos

            phone = tmp / "phone"
            phone.mkdir()
            make_photos(phone, args.phone)
            result, _, _, n = profile(phone, tmp / "b")
            lines += table("phone photos (4032×3024, `benchmarks/schoolday.py`)", result, n) + [""]
        lines += ["Reproduce: `.venv/bin/python benchmarks/time_per_step.py`", ""]
        text = "\n".join(lines)
        print(text)
        Path(args.output).write_text(text, encoding="utf-8")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
