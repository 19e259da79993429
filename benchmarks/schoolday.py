"""A school day of phone photos: `pipeline process` against deface and the face_recognition CLI.

    .venv/bin/python benchmarks/schoolday.py                 # 8 phone-size photos, 3 rounds, both peers
    .venv/bin/python benchmarks/schoolday.py --photos 100    # a whole school day (takes a while)
    .venv/bin/python benchmarks/schoolday.py --rounds 1 --no-peers

**Photos** (made at run time in a temporary folder, never written into the repository): phone-size
JPEGs of 4032×3024 pixels (every fourth one stored on its side with EXIF orientation 6, as phones
do), built from the fixture photos of ``../shared/fixtures/faces``: an event or group photo
upscaled to fill the frame, then two to four more people pasted in with soft edges — labelled
faces of the group photos (``groups/faces.json``) and the register's reference portraits
(``enrol/``), scaled to the face sizes a phone gives at a school event (roughly 90–400 px) — and a
little sensor-like noise so the files are as large as a phone's (about 2–3 MB at quality 92). A
seeded random generator makes the same photos every run (``--seed``).

**Tools**, each timed as a whole command in the same run, in a rotating order, median of the rounds
(the helpers of ``benchmarks/perf.py``: same peers, same throwaway virtual environments under
``benchmarks/.peers/``, same measurement of wall time, CPU time and peak memory of the whole process tree):

- ours: a fresh workspace with the five fixture people enrolled, ``pipeline process PHOTOS --json``
  (detect, recognise, decide, redact, strip metadata, one output per channel);
- deface 1.5.0 as ``pip install deface`` gives it (OpenCV backend), and with ``--backend onnxrt``;
- face_recognition 1.3.0 CLI ``--cpus 2`` (it scales photos larger than 1,600 px down before looking).

Prints photos per minute, peak memory and how many times faster ours is, and writes
``benchmarks/results/schoolday.md``.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import perf  # noqa: E402  (benchmarks/perf.py: peers, measurement, workspace set-up)

FIXTURES = perf.FIXTURES
RESULTS = perf.RESULTS
SIZE = (4032, 3024)


# --------------------------------------------------------------------------- the photos

def _face_sources(rng: random.Random) -> list[np.ndarray]:
    """Head-and-shoulders patches: the labelled faces of the group photos (with context) and the
    reference portraits of the register."""
    from PIL import Image, ImageOps

    patches = []
    labels = json.loads((FIXTURES / "groups" / "faces.json").read_text(encoding="utf-8"))
    for name, boxes in sorted(labels.items()):
        with Image.open(FIXTURES / "groups" / name) as im:
            rgb = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
        h, w = rgb.shape[:2]
        for b in boxes:
            cx, cy, side = b["left"] + b["width"] / 2, b["top"] + b["height"] / 2, max(b["width"], b["height"])
            x1, x2 = int(max(0, cx - 0.9 * side)), int(min(w, cx + 0.9 * side))
            y1, y2 = int(max(0, cy - 0.9 * side)), int(min(h, cy + 1.2 * side))
            patches.append(("group", rgb[y1:y2, x1:x2].copy()))
    for person in sorted(p for p in (FIXTURES / "enrol").iterdir() if p.is_dir()):
        for f in sorted(person.iterdir()):
            with Image.open(f) as im:
                patches.append(("portrait", np.asarray(ImageOps.exif_transpose(im).convert("RGB"))))
    rng.shuffle(patches)
    return patches


def _backgrounds() -> list[Path]:
    return sorted((FIXTURES / "events").glob("*.jpg")) + sorted((FIXTURES / "groups").glob("*.jpg"))


def _cover(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale (up) and crop to exactly ``size`` (w, h)."""
    import cv2

    w, h = size
    sh, sw = rgb.shape[:2]
    factor = max(w / sw, h / sh)
    big = cv2.resize(rgb, (max(w, round(sw * factor)), max(h, round(sh * factor))), interpolation=cv2.INTER_CUBIC)
    # centred across; from the upper part down (where a portrait's face is)
    y, x = (big.shape[0] - h) // 5, (big.shape[1] - w) // 2
    return np.ascontiguousarray(big[y:y + h, x:x + w])


def _paste(canvas: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    """Blend ``patch`` into ``canvas`` at (x, y) through a soft elliptical mask."""
    ph, pw = patch.shape[:2]
    yy, xx = np.mgrid[0:ph, 0:pw].astype(np.float32)
    d = ((xx - pw / 2) / (pw / 2)) ** 2 + ((yy - ph / 2) / (ph / 2)) ** 2
    alpha = np.clip((1.0 - d) / 0.25, 0, 1)[..., None]
    region = canvas[y:y + ph, x:x + pw].astype(np.float32)
    canvas[y:y + ph, x:x + pw] = (alpha * patch + (1 - alpha) * region + 0.5).astype(np.uint8)


def _noise(index: int, shape: tuple) -> np.ndarray:
    """Sensor-like noise (sigma 3 levels) as int16, from a tile repeated over the frame (cheap)."""
    tile = np.random.default_rng(index).normal(0, 3.0, (509, 509, 3)).round().astype(np.int16)
    reps = (-(-shape[0] // 509), -(-shape[1] // 509), 1)
    return np.ascontiguousarray(np.tile(tile, reps)[:shape[0], :shape[1]])


def make_photo(index: int, rng: random.Random, sources: list, backgrounds: list[Path]) -> bytes:
    """One phone-size JPEG (see the module doc)."""
    import cv2
    from PIL import Image, ImageOps

    with Image.open(backgrounds[index % len(backgrounds)]) as im:
        bg = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    canvas = _cover(bg, SIZE)
    w, h = SIZE
    for _ in range(rng.randint(2, 4)):
        kind, patch = sources[rng.randrange(len(sources))]
        # group faces were 37-110 px: scale so the face is ~90-400 px; portraits to 500-1100 px tall
        target = rng.uniform(160, 700) if kind == "group" else rng.uniform(500, 1100)
        factor = target / max(patch.shape[:2])
        size = (max(8, round(patch.shape[1] * factor)), max(8, round(patch.shape[0] * factor)))
        scaled = cv2.resize(patch, size, interpolation=cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA)
        if scaled.shape[0] >= h or scaled.shape[1] >= w:
            continue
        x, y = rng.randrange(0, w - scaled.shape[1]), rng.randrange(0, h - scaled.shape[0])
        _paste(canvas, scaled, x, y)
    canvas = cv2.add(canvas, _noise(index, canvas.shape), dtype=cv2.CV_8U)
    image = Image.fromarray(canvas)
    exif = Image.Exif()
    exif[0x010F] = "Schoolday Benchmark"  # Make
    if index % 4 == 3:  # stored on its side, shown upright by the orientation tag (as phones do)
        image = image.transpose(Image.Transpose.ROTATE_90)
        exif[0x0112] = 6
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=92, exif=exif.tobytes())
    return buf.getvalue()


def make_photos(folder: Path, count: int, seed: int = 2026) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    sources, backgrounds = _face_sources(rng), _backgrounds()
    paths = []
    for i in range(count):
        path = folder / f"IMG_{i + 1:04d}.jpg"
        path.write_bytes(make_photo(i, rng, sources, backgrounds))
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- report

def _per_minute(n: int, seconds: float) -> str:
    return f"{60 * n / seconds:.1f}"


def table(rows: list[tuple[str, dict]], n: int, ours: dict) -> list[str]:
    out = ["| tool | wall (s) | CPU (s) | photos / minute | peak memory (tree) | ours faster by |",
           "|---|---:|---:|---:|---:|---:|"]
    for label, r in rows:
        ratio = "—" if r is ours else f"**{r['wall'] / ours['wall']:.2f}×**"
        out.append(f"| {label} | {r['wall']:.2f} | {r['cpu']:.1f} | {_per_minute(n, r['wall'])} | "
                   f"{perf.fmt_mb(r['peak_rss'])} | {ratio} |")
    return out


BARS = {"deface": 2.5, "face_recognition": 3.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, default=8, help="phone-size photos to make (default 8; a school day: 100)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds (each tool once per round); median shown")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--no-peers", action="store_true", help="time only our pipeline")
    ap.add_argument("--no-deface-onnx", action="store_true", help="skip deface's onnxruntime backend")
    ap.add_argument("--workers", type=int, default=None, help="pass --workers N to pipeline process")
    ap.add_argument("--output", default=str(RESULTS / "schoolday.md"))
    args = ap.parse_args()
    if not FIXTURES.is_dir():
        raise SystemExit(f"The fixture photos are missing: expected {FIXTURES} (clone the project next to ../shared).")
    extra = ["--workers", str(args.workers)] if args.workers else []
    tmp = Path(tempfile.mkdtemp(prefix="schoolday-"))
    try:
        started = time.perf_counter()
        photos = tmp / "photos"
        make_photos(photos, args.photos, args.seed)
        made = time.perf_counter() - started
        known = tmp / "known"
        known.mkdir()
        for person in sorted(p for p in (FIXTURES / "enrol").iterdir() if p.is_dir()):
            shutil.copy2(sorted(person.iterdir())[0], known / f"{person.name}.jpg")
        size_mb = sum(p.stat().st_size for p in photos.iterdir()) / 1e6
        print(f"made {args.photos} photos of {SIZE[0]}x{SIZE[1]} ({size_mb:.0f} MB) in {made:.0f} s", file=sys.stderr)

        tools = {"ours": lambda: perf.run_ours(tmp, photos, extra)}
        versions = {}
        if not args.no_peers:
            fr, df = perf.face_recognition_env(), perf.deface_env()
            versions = {"face_recognition": perf.version_of(fr, "face-recognition"),
                        "deface": perf.version_of(df, "deface"),
                        "onnxruntime (deface)": perf.version_of(df, "onnxruntime")}
            tools["face_recognition"] = lambda: perf.run_face_recognition(fr, known, photos)
            tools["deface"] = lambda: perf.run_deface(df, photos, tmp, "opencv")
            if not args.no_deface_onnx:
                tools["deface_onnx"] = lambda: perf.run_deface(df, photos, tmp, "onnxrt")
        load_before = os.getloadavg()
        runs = perf.run_rounds(tools, args.rounds)
        names = list(tools)
        load_after = os.getloadavg()
        labels = {"ours": "**ours: `pipeline process`** (detect, recognise, decide, redact, strip, 4 channels)",
                  "face_recognition": "face_recognition CLI `--cpus 2` (detect + recognise)",
                  "deface": "deface, as `pip install deface` gives it (OpenCV; detect + blur)",
                  "deface_onnx": "deface `--backend onnxrt` (detect + blur)"}
        medians = {name: perf.median_of(runs[name]) for name in names}
        ours = medians["ours"]
        statuses: dict[str, int] = {}
        for r in ours["records"]:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        bars = []
        for key, need in BARS.items():
            if key in medians:
                ratio = medians[key]["wall"] / ours["wall"]
                bars.append(f"{ratio:.2f}× {key.replace('_', ' ')} (needs ≥ {need}×: {'met' if ratio >= need else 'NOT met'})")
        lines = [
            "# A school day of phone photos: `pipeline process` against deface and face_recognition",
            "",
            f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} on {platform.node() or 'this machine'}: "
            f"{os.cpu_count()} CPU cores, Python {platform.python_version()}, {platform.system()} {platform.release()}.",
            f"Photos: {args.photos} made from the fixtures at {SIZE[0]}×{SIZE[1]} ({size_mb:.0f} MB, seed {args.seed}). "
            f"Median of {args.rounds} round(s), tools in rotating order; load average before/after: "
            f"{load_before[0]:.1f} / {load_after[0]:.1f}.",
            "",
            *table([(labels[n], medians[n]) for n in names], args.photos, ours),
            "",
            *(["**Bar:** ours is " + "; ".join(bars) + "."] if bars else []),
            "",
            f"Ours found {ours['faces']} faces; photos: "
            + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) + ".",
        ]
        options = (f" --photos {args.photos}" if args.photos != 8 else "") + \
            (f" --rounds {args.rounds}" if args.rounds != 3 else "") + \
            (f" --workers {args.workers}" if args.workers else "") + (" --no-peers" if args.no_peers else "")
        perf.write_report(lines, {n: medians[n]["walls"] for n in names}, versions,
                          f".venv/bin/python benchmarks/schoolday.py{options}", Path(args.output))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
