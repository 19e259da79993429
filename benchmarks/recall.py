"""Face recall: does the detector find every face, including tilted, small, large, dark and blurred ones?

    .venv/bin/python benchmarks/recall.py             # full stress set, every configuration, end-to-end CLI run
    .venv/bin/python benchmarks/recall.py --quick     # fewer variants, no CLI run (about a minute)
    .venv/bin/python benchmarks/recall.py --no-cli    # detectors only

A missed face is published unredacted, so recall is the number that matters (issue 7).

**Stress set** (built in memory, never written into the repository): the 9 hand-labelled group
photos of ``../shared/fixtures/faces/groups`` (``faces.json``: ``top, left, width, height``; 43
faces of 37–110 px) and transformed copies of each:

- ``original``: re-encoded as JPEG quality 95, like every variant below unless stated;
- ``rot+15``, ``rot-15``, ``rot+25``, ``rot-25``: turned about the centre (positive = counter-
  clockwise) on an expanded canvas (black corners); each label's centre turns with the image,
  its size stays the face's own size (stricter than the bounding box of the turned square);
- ``scale0.75``, ``scale3``: resized (area / cubic interpolation), labels scaled alike;
- ``dark``: brightness × 0.4;
- ``blur``: Gaussian blur, sigma 2 px;
- ``jpeg30``: encoded at JPEG quality 30.

The issue's own stress set was the seven ``rot±15``, ``rot±25``, ``scale0.75``, ``scale3``,
``dark`` variants (7 × 43 = 301 faces); the table reports that subset separately.

**Criterion** (issue 7): a labelled face is found when some reported box contains its centre and
has at most four times its area. A reported box that contains no labelled centre is an
*unmatched box*: a false alarm, or a real face nobody labelled (the group photos have some
unlabelled faces in the background), so it is reported, not judged.

**Configurations**, all in the same run, each image given to each configuration in turn (so the
load of a shared machine falls on all alike):

- face_recognition 1.3.0 ``face_locations(img, number_of_times_to_upsample=0|1, model="hog")``:
  the peer, dlib's HOG detector as most projects use it;
- ours ``hog``: ``processors.face_detect.detect`` with ``[faces] detector = "hog"``;
- ours CenterFace upright only (no turned passes, no HOG second opinion): shows what each extra
  pass of ``thorough`` adds;
- ours ``thorough`` with the float CenterFace model alone (``int8_screen=False``): what the int8
  screen of the default is checked against;
- ours ``thorough``: the default.

Seconds per image are wall time of the detection call (median and mean over the set's images);
CPU seconds are also shown, since other programs may share the machine.

**End to end** (the issue's bar): the stress images of the issue's seven variants (all with
``--cli-all``) are written as JPEG files, then the real CLI
``pipeline process DIR --json`` runs in a fresh workspace (``pipeline init``; no register, so every
face is unknown and blurred) with ``detector = "thorough"`` and with ``detector = "hog"`` (set in
the workspace's ``pipeline.toml``), ``--rounds`` times each in alternating order. Recall is read
from the JSON ``faces[].box`` (``[top, right, bottom, left]`` in the original's coordinates,
DESIGN.md) and the wall time of the whole command is compared (median of the rounds; the CPU time
of its process tree too): the bar is recall >= 0.99 with thorough no more than 2× the time of hog.

Writes ``benchmarks/results/recall.md`` (and prints it).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
GROUPS = ROOT.parent / "shared" / "fixtures" / "faces" / "groups"
RESULTS = ROOT / "benchmarks" / "results"
PY = Path(sys.executable)

ISSUE_VARIANTS = ("rot+15", "rot-15", "rot+25", "rot-25", "scale0.75", "scale3", "dark")
QUICK_VARIANTS = ("original", "rot+25", "rot-25", "scale0.75", "scale3", "dark")


# --------------------------------------------------------------------------- the stress set

@dataclass(frozen=True)
class Face:
    """A labelled face: its centre and its size (pixels) in the stress image."""

    cx: float
    cy: float
    w: float
    h: float


@dataclass
class Sample:
    photo: str          # fixture file name
    variant: str
    jpeg: bytes         # exactly what the CLI reads
    rgb: np.ndarray     # the same pixels, decoded
    faces: list[Face]

    @property
    def file_name(self) -> str:
        return f"{self.variant}__{self.photo}"


def load_labels(groups: Path = GROUPS) -> dict[str, list[Face]]:
    labels = json.loads((groups / "faces.json").read_text(encoding="utf-8"))
    return {name: [Face(b["left"] + b["width"] / 2, b["top"] + b["height"] / 2, b["width"], b["height"])
                   for b in boxes] for name, boxes in sorted(labels.items())}


def read_rgb(path_or_bytes) -> np.ndarray:
    from PIL import Image, ImageOps

    src = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    with Image.open(src) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def rotate(rgb: np.ndarray, faces: list[Face], angle: float) -> tuple[np.ndarray, list[Face]]:
    """Turn counter-clockwise by ``angle`` degrees on an expanded canvas; centres turn along."""
    import cv2

    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    tw, th = int(np.ceil(h * sin + w * cos)), int(np.ceil(h * cos + w * sin))
    m[0, 2] += tw / 2 - w / 2
    m[1, 2] += th / 2 - h / 2
    out = cv2.warpAffine(rgb, m, (tw, th), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=(0, 0, 0))
    turned = []
    for f in faces:
        cx, cy = m @ np.array([f.cx, f.cy, 1.0])
        turned.append(Face(float(cx), float(cy), f.w, f.h))
    return out, turned


def scale(rgb: np.ndarray, faces: list[Face], factor: float) -> tuple[np.ndarray, list[Face]]:
    import cv2

    h, w = rgb.shape[:2]
    size = (round(w * factor), round(h * factor))
    out = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC)
    fx, fy = size[0] / w, size[1] / h
    return out, [Face(f.cx * fx, f.cy * fy, f.w * fx, f.h * fy) for f in faces]


def darken(rgb: np.ndarray, faces: list[Face], factor: float) -> tuple[np.ndarray, list[Face]]:
    return np.clip(rgb.astype(np.float32) * factor + 0.5, 0, 255).astype(np.uint8), list(faces)


def blur(rgb: np.ndarray, faces: list[Face], sigma: float) -> tuple[np.ndarray, list[Face]]:
    import cv2

    return cv2.GaussianBlur(rgb, (0, 0), sigma), list(faces)


# name -> (transform, JPEG quality of the file)
Transform = Callable[[np.ndarray, list[Face]], tuple[np.ndarray, list[Face]]]
VARIANTS: dict[str, tuple[Transform, int]] = {
    "original": (lambda rgb, faces: (rgb, list(faces)), 95),
    "rot+15": (lambda rgb, faces: rotate(rgb, faces, 15), 95),
    "rot-15": (lambda rgb, faces: rotate(rgb, faces, -15), 95),
    "rot+25": (lambda rgb, faces: rotate(rgb, faces, 25), 95),
    "rot-25": (lambda rgb, faces: rotate(rgb, faces, -25), 95),
    "scale0.75": (lambda rgb, faces: scale(rgb, faces, 0.75), 95),
    "scale3": (lambda rgb, faces: scale(rgb, faces, 3.0), 95),
    "dark": (lambda rgb, faces: darken(rgb, faces, 0.4), 95),
    "blur": (lambda rgb, faces: blur(rgb, faces, 2.0), 95),
    "jpeg30": (lambda rgb, faces: (rgb, list(faces)), 30),
}


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def build_stress_set(variants=tuple(VARIANTS), groups: Path = GROUPS) -> list[Sample]:
    samples = []
    for photo, faces in load_labels(groups).items():
        rgb = read_rgb(groups / photo)
        for variant in variants:
            transform, quality = VARIANTS[variant]
            out, moved = transform(rgb, faces)
            data = encode_jpeg(np.ascontiguousarray(out), quality)
            samples.append(Sample(photo, variant, data, read_rgb(data), moved))
    return samples


# --------------------------------------------------------------------------- scoring

def found(face: Face, box) -> bool:
    """The issue's criterion: ``box`` (top, right, bottom, left) contains the face's centre and
    has at most four times its area."""
    top, right, bottom, left = box
    inside = left <= face.cx <= right and top <= face.cy <= bottom
    return inside and (right - left) * (bottom - top) <= 4 * face.w * face.h


def contains_a_centre(box, faces: list[Face]) -> bool:
    top, right, bottom, left = box
    return any(left <= f.cx <= right and top <= f.cy <= bottom for f in faces)


@dataclass
class Score:
    faces: int = 0
    found: int = 0
    unmatched: int = 0
    images: int = 0
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    def add(self, sample: Sample, boxes, seconds: float | None = None, cpu: float | None = None) -> None:
        self.images += 1
        for i, face in enumerate(sample.faces):
            self.faces += 1
            if any(found(face, b) for b in boxes):
                self.found += 1
            else:
                self.missed.append(f"{sample.variant}/{sample.photo}#{i} ({face.w:.0f} px)")
        self.unmatched += sum(not contains_a_centre(b, sample.faces) for b in boxes)
        if seconds is not None:
            self.seconds.append(seconds)
        if cpu is not None:
            self.cpu.append(cpu)

    @property
    def recall(self) -> float:
        return self.found / self.faces if self.faces else float("nan")


# --------------------------------------------------------------------------- configurations

def configurations(with_centerface: bool = True) -> dict[str, Callable[[np.ndarray], list]]:
    from processors import dlib_models
    from processors.face_detect import DetectOptions, detect_faces

    dlib_models.ensure_pkg_resources()
    import face_recognition

    configs = {
        "face_recognition HOG, upsample 0 (peer)": lambda rgb: face_recognition.face_locations(rgb, 0, "hog"),
        "face_recognition HOG, upsample 1 (peer)": lambda rgb: face_recognition.face_locations(rgb, 1, "hog"),
        'ours `detector = "hog"`': lambda rgb: detect_faces(rgb, DetectOptions(detector="hog")),
    }
    if with_centerface:
        upright = DetectOptions(angles=(), hog_second_opinion=False)
        configs["ours CenterFace upright only"] = lambda rgb: detect_faces(rgb, upright)
        float_only = DetectOptions(int8_screen=False)
        configs['ours "thorough", float model alone (no int8 screen)'] = lambda rgb: detect_faces(rgb, float_only)
    configs['ours `detector = "thorough"` (default)'] = lambda rgb: detect_faces(rgb, DetectOptions())
    return configs


def run_detectors(samples: list[Sample], configs) -> tuple[dict[str, Score], dict[tuple[str, str], Score]]:
    # Warm up: load every model once so no configuration pays for it inside the timing.
    for fn in configs.values():
        fn(samples[0].rgb)
    totals = {name: Score() for name in configs}
    per_variant: dict[tuple[str, str], Score] = {}
    for n, sample in enumerate(samples, 1):
        for name, fn in configs.items():
            t0, c0 = time.perf_counter(), time.process_time()
            boxes = fn(sample.rgb)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            totals[name].add(sample, boxes, wall, cpu)
            per_variant.setdefault((name, sample.variant), Score()).add(sample, boxes, wall, cpu)
        print(f"\r  detectors: {n}/{len(samples)} images", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return totals, per_variant


# --------------------------------------------------------------------------- the real CLI

def run_cli(samples: list[Sample], detector: str, tmp: Path, photos: Path) -> tuple[Score, float, float]:
    """``pipeline process PHOTOS --json`` in a fresh workspace with ``[faces] detector``; its wall time
    and the CPU time of its whole process tree (the worker pool's processes are waited for)."""
    ws = tmp / f"ws-{detector}-{time.monotonic_ns()}"
    cli = [str(PY), "-m", "pipeline.cli"]
    subprocess.run([*cli, "init", str(ws)], check=True, capture_output=True, cwd=ROOT)
    toml = ws / "pipeline.toml"
    text = toml.read_text(encoding="utf-8")
    if 'detector = "thorough"' not in text:
        raise SystemExit(f"{toml} has no 'detector = \"thorough\"' line to change; update benchmarks/recall.py")
    toml.write_text(text.replace('detector = "thorough"', f'detector = "{detector}"'), encoding="utf-8")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([*cli, "--workspace", str(ws), "process", str(photos), "--json"],
                          capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"pipeline process failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    records = {Path(r["source"]).name: r for r in map(json.loads, filter(str.strip, proc.stdout.splitlines()))}
    score = Score()
    for sample in samples:
        record = records.get(sample.file_name)
        if record is None or record["status"] == "rejected":
            raise SystemExit(f"no result for {sample.file_name}: {record}")
        score.add(sample, [tuple(f["box"]) for f in record["faces"]])
    return score, wall, cpu


def run_end_to_end(samples: list[Sample], rounds: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="recall-") as tmp:
        tmp = Path(tmp)
        photos = tmp / "photos"
        photos.mkdir()
        for s in samples:
            (photos / s.file_name).write_bytes(s.jpeg)
        result = {"hog": {"walls": [], "cpus": []}, "thorough": {"walls": [], "cpus": []}}
        for r in range(rounds):
            order = ("hog", "thorough") if r % 2 == 0 else ("thorough", "hog")
            for detector in order:
                print(f"  pipeline process, detector = {detector}, round {r + 1}/{rounds} …", file=sys.stderr)
                score, wall, cpu = run_cli(samples, detector, tmp, photos)
                result[detector]["score"] = score
                result[detector]["walls"].append(wall)
                result[detector]["cpus"].append(cpu)
        return result


# --------------------------------------------------------------------------- report

def fmt_recall(s: Score) -> str:
    return f"{s.recall:.3f} ({s.found}/{s.faces})"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def report(args, samples, totals, per_variant, e2e, cli_samples) -> str:
    variants = list(dict.fromkeys(s.variant for s in samples))
    issue = [v for v in variants if v in ISSUE_VARIANTS]
    lines = [
        "# Face recall benchmark",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M %Z')} · {machine()} · load average before the run "
        f"{args.load_before}",
        "",
        f"Reproduce: `.venv/bin/python benchmarks/recall.py{' --quick' if args.quick else ''}"
        f"{' --no-cli' if args.no_cli and not args.quick else ''}{' --cli-all' if args.cli_all else ''}"
        f"{' --variants ' + args.variants if args.variants else ''}` "
        "(needs `../shared/fixtures/faces/groups`). How the stress set is built and scored: the "
        "docstring of `benchmarks/recall.py`.",
        "",
        f"Stress set: {len({s.photo for s in samples})} labelled group photos × {len(variants)} variants "
        f"({', '.join(variants)}) = {len(samples)} images, {sum(len(s.faces) for s in samples)} labelled faces. "
        "A face is found when a reported box contains its centre and is at most 4× its area; an unmatched "
        "box contains no labelled centre (a false alarm or an unlabelled background face).",
        "",
        "## Detectors alone (same run, same images)",
        "",
        f"| configuration | recall, all variants | recall, issue's {len(issue)} variants | unmatched boxes "
        "| s / image (median, mean) | CPU s / image (mean) |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in totals.items():
        sub = Score()
        for v in issue:
            ps = per_variant[(name, v)]
            sub.faces, sub.found = sub.faces + ps.faces, sub.found + ps.found
        lines.append(f"| {name} | {fmt_recall(s)} | {fmt_recall(sub) if issue else '–'} | {s.unmatched} "
                     f"| {statistics.median(s.seconds):.3f}, {statistics.mean(s.seconds):.3f} "
                     f"| {statistics.mean(s.cpu):.3f} |")
    def per_variant_table(title: str, cell) -> list[str]:
        rows = ["", title, "", "| configuration | " + " | ".join(variants) + " |", "|---|" + "---|" * len(variants)]
        return rows + [f"| {name} | " + " | ".join(cell(per_variant[(name, v)]) for v in variants) + " |"
                       for name in totals]

    lines += per_variant_table("## Recall per variant", lambda ps: f"{ps.found}/{ps.faces}")
    lines += per_variant_table("## CPU seconds per image, per variant", lambda ps: f"{statistics.mean(ps.cpu):.3f}")
    default = next(n for n in totals if "thorough" in n)
    missed = totals[default].missed
    lines += ["", f"Faces the default missed: {', '.join(missed) if missed else 'none'}."]
    if e2e:
        th, hg = e2e["thorough"], e2e["hog"]
        t_med, h_med = statistics.median(th["walls"]), statistics.median(hg["walls"])
        t_cpu, h_cpu = statistics.median(th["cpus"]), statistics.median(hg["cpus"])
        lines += [
            "", "## End to end: `pipeline process DIR --json` (the issue's bar)", "",
            f"{len(cli_samples)} stress images ({', '.join(dict.fromkeys(s.variant for s in cli_samples))}) "
            "written as JPEG files; fresh workspace per run, no register; "
            f"{args.rounds} round(s) per detector, alternating order; wall time of the whole command "
            "(Python start-up, decoding, detection, encoding faces, redaction, writing every channel).", "",
            "| `[faces] detector` | recall from `faces[].box` | unmatched boxes | wall s (each round) "
            "| CPU s, all processes (each round) | wall s / image |",
            "|---|---|---|---|---|---|",
            f"| thorough (default) | {fmt_recall(th['score'])} | {th['score'].unmatched} "
            f"| {', '.join(f'{w:.1f}' for w in th['walls'])} | {', '.join(f'{c:.1f}' for c in th['cpus'])} "
            f"| {t_med / len(cli_samples):.3f} |",
            f"| hog | {fmt_recall(hg['score'])} | {hg['score'].unmatched} "
            f"| {', '.join(f'{w:.1f}' for w in hg['walls'])} | {', '.join(f'{c:.1f}' for c in hg['cpus'])} "
            f"| {h_med / len(cli_samples):.3f} |",
            "",
            f"**Bar:** recall {th['score'].recall:.3f} (needs ≥ 0.99: "
            f"{'met' if th['score'].recall >= 0.99 else 'NOT met'}); thorough / hog wall time "
            f"{t_med / h_med:.2f}× (median of rounds; needs ≤ 2: {'met' if t_med / h_med <= 2 else 'NOT met'}); "
            f"CPU time {t_cpu / h_cpu:.2f}× (less sensitive to other programs on the machine).",
        ]
        if th["score"].missed:
            lines.append(f"Missed end to end: {', '.join(th['score'].missed)}.")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"variants {', '.join(QUICK_VARIANTS)} only, no CLI run")
    ap.add_argument("--no-cli", action="store_true", help="skip the end-to-end `pipeline process` runs")
    ap.add_argument("--rounds", type=int, default=2, help="end-to-end runs per detector (default 2)")
    ap.add_argument("--cli-all", action="store_true",
                    help="end-to-end run on every variant (default: the issue's seven, %s)" % ", ".join(ISSUE_VARIANTS))
    ap.add_argument("--variants", help="comma-separated subset of: " + ", ".join(VARIANTS))
    ap.add_argument("--output", type=Path, default=RESULTS / "recall.md", help="where to write the table")
    args = ap.parse_args(argv)
    if not (GROUPS / "faces.json").is_file():
        print(f"needs the labelled group photos at {GROUPS} (clone the project next to ../shared)", file=sys.stderr)
        return 2
    variants = tuple(args.variants.split(",")) if args.variants else QUICK_VARIANTS if args.quick else tuple(VARIANTS)
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    args.no_cli = args.no_cli or args.quick
    args.load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    samples = build_stress_set(variants)
    print(f"stress set: {len(samples)} images, {sum(len(s.faces) for s in samples)} faces", file=sys.stderr)
    totals, per_variant = run_detectors(samples, configurations())
    cli_samples = samples if args.cli_all else [s for s in samples if s.variant in ISSUE_VARIANTS] or samples
    e2e = None if args.no_cli else run_end_to_end(cli_samples, max(1, args.rounds))
    text = report(args, samples, totals, per_variant, e2e, cli_samples)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
