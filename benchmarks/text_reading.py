"""Text in the picture: how many rendered names each reader redacts, how much harmless text it
touches, and what it costs per megapixel — ours (PP-OCR on ONNX Runtime, rapidocr-onnxruntime's
models) against Tesseract (Debian ``tesseract-ocr``, words from its TSV output) in the same run.

Scenes are the fixture photos with certificates, badges, shirts, boards and screens pasted in
(tests/text_scenes.py): names in several fonts, sizes (14-40 px capitals) and angles (±30°).

    .venv/bin/python benchmarks/text_reading.py [--count 40] [--no-tesseract] [--long-edge 1280]
"""
from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from processors.names import NamedPerson  # noqa: E402
from processors.text import engine  # noqa: E402
from processors.text.redact import region_record  # noqa: E402
from processors.text.regions import TextRegion, text_regions  # noqa: E402
from text_scenes import scene_set  # noqa: E402

PEOPLE = [NamedPerson("P001", "Amelia", "Hart"), NamedPerson("P002", "Zoë", "Okafor"),
          NamedPerson("P003", "Łukasz", "Nowak"), NamedPerson("P004", "Siobhán", "Murphy"),
          NamedPerson("P005", "Oliver", "Bennett"), NamedPerson("P006", "Priya", "Raghunathan")]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "faces"


def backgrounds() -> list[Image.Image]:
    files = sorted((FIXTURES / "events").glob("*.jpg")) + sorted((FIXTURES / "groups").glob("*.jpg"))
    if not files:
        sys.exit(f"needs the shared fixtures at {FIXTURES}")
    return [Image.open(f).convert("RGB") for f in files]


def mask_of(size, polygons) -> np.ndarray:
    m = Image.new("L", size, 0)
    d = ImageDraw.Draw(m)
    for p in polygons:
        d.polygon([tuple(map(float, pt)) for pt in p], fill=255)
    return np.asarray(m) > 0


def score(scenes, redactions) -> dict:
    """Names redacted (>= 80% of the drawn line's area covered) and harmless lines touched (> 10%)."""
    names = names_hit = harmless = harmless_hit = 0
    for scene, polys in zip(scenes, redactions):
        covered = mask_of(scene.image.size, polys)
        for r in scene.regions:
            area = mask_of(scene.image.size, [r.polygon])
            frac = covered[area].mean() if area.any() else 0.0
            if r.label in ("name", "family"):
                names += 1
                names_hit += frac >= 0.8
            else:
                harmless += 1
                harmless_hit += frac > 0.1
    return {"names": names, "names_redacted": int(names_hit), "harmless": harmless,
            "harmless_touched": int(harmless_hit)}


def ours(scenes, long_edge) -> tuple[list, float]:
    engine.warm()
    out, t0 = [], time.process_time()
    for s in scenes:
        lines = engine.read_lines(np.asarray(s.image), long_edge=long_edge)
        regions = text_regions(lines, PEOPLE, {})
        recs = [region_record(r, ["website"], {}) for r in regions]
        out.append([r["polygon"] for r in recs if r["decisions"]["website"] == "redact"])
    return out, time.process_time() - t0


def tesseract(scenes) -> tuple[list, float]:
    """Tesseract 5 (LSTM) words grouped by its lines; the same name engine and rule."""
    from processors.text.engine import TextLine

    out, cpu = [], 0.0
    for s in scenes:
        buf = io.BytesIO()
        s.image.save(buf, "PNG")
        t0 = time.perf_counter()
        tsv = subprocess.run(["tesseract", "stdin", "stdout", "--psm", "11", "tsv"], input=buf.getvalue(),
                             capture_output=True, env={"OMP_THREAD_LIMIT": "1", "PATH": "/usr/bin"}).stdout
        cpu += time.perf_counter() - t0
        lines: dict = {}
        for row in tsv.decode("utf-8", "replace").splitlines()[1:]:
            f = row.split("\t")
            if len(f) < 12 or not f[11].strip():
                continue
            key = (f[2], f[3], f[4])
            x, y, w, h = map(int, f[6:10])
            lines.setdefault(key, []).append((x, y, w, h, f[11]))
        tl = []
        for words in lines.values():
            text, polys = "", []
            for x, y, w, h, word in words:
                if text:
                    text += " "
                    polys.append(np.array([[x, y], [x, y], [x, y + h], [x, y + h]], np.float32))
                text += word
                for k in range(len(word)):
                    cx0, cx1 = x + w * k / len(word), x + w * (k + 1) / len(word)
                    polys.append(np.array([[cx0, y], [cx1, y], [cx1, y + h], [cx0, y + h]], np.float32))
            xs = [w[0] for w in words]
            x0, y0 = min(xs), min(w[1] for w in words)
            x1 = max(w[0] + w[2] for w in words)
            y1 = max(w[1] + w[3] for w in words)
            quad = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)
            tl.append(TextLine(quad, text, 1.0, polys if len(polys) == len(text) else None))
        regions = text_regions(tl, PEOPLE, {})
        recs = [region_record(r, ["website"], {}) for r in regions]
        out.append([r["polygon"] for r in recs if r["decisions"]["website"] == "redact"])
    return out, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--long-edge", type=int, default=None,
                    help="the detector's long edge (default: the pipeline's, engine.detect_edge)")
    ap.add_argument("--no-tesseract", action="store_true")
    ap.add_argument("--letters", default="14,40", help="capital-letter heights, min,max px")
    args = ap.parse_args()
    lo, hi = map(int, args.letters.split(","))
    scenes = scene_set(backgrounds(), [(p.given, p.family) for p in PEOPLE], seed=args.seed, count=args.count,
                       letter_range=(lo, hi))
    mp = sum(s.image.width * s.image.height for s in scenes) / 1e6
    print(f"{len(scenes)} scenes, {mp:.1f} MP, {sum(len(s.regions) for s in scenes)} drawn lines")
    rows = []
    red, cpu = ours(scenes, args.long_edge)
    rows.append((f"ours: PP-OCRv4 (rapidocr-onnxruntime), detect at {args.long_edge or 'max(960, 0.7x)'} px", score(scenes, red), cpu))
    if not args.no_tesseract and shutil.which("tesseract"):
        red, cpu = tesseract(scenes)
        rows.append(("tesseract 5 (Debian), --psm 11, 1 thread", score(scenes, red), cpu))
    print("| reader | names redacted | harmless touched | CPU s | CPU s / MP |")
    print("|---|---:|---:|---:|---:|")
    for name, sc, c in rows:
        print(f"| {name} | {sc['names_redacted']}/{sc['names']} ({sc['names_redacted'] / sc['names']:.1%}) | "
              f"{sc['harmless_touched']}/{sc['harmless']} ({sc['harmless_touched'] / sc['harmless']:.1%}) | "
              f"{c:.1f} | {c / mp:.2f} |")


if __name__ == "__main__":
    main()
