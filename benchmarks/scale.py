"""Scale of `pipeline process` and `pipeline audit`: throughput with 1 and 2 workers (local pool and Dask),
and peak memory over a 2,000-image batch.

    .venv/bin/python benchmarks/scale.py                        # everything (~30 min on 2 cores)
    .venv/bin/python benchmarks/scale.py --parts throughput     # only (a)
    .venv/bin/python benchmarks/scale.py --parts memory --images 2000

(a) Throughput. The 16 photos of fixtures faces/events and faces/groups, ``--copies`` variants of
each at full size (default 2: 32 photos). Each variant differs from the original by a 2×2 patch of
pixels in its corner and is re-encoded, so every file is distinct content (a duplicate would not
be analysed again). Every run gets a fresh copy of one enrolled workspace (five fixture people),
so nothing is cached. Configurations: local pool ``--workers 1`` / ``--workers 2``, and a Dask
``LocalCluster`` of 1 / 2 worker processes (one thread each) started *before* the clock, as a
trust's cluster would already be running; ``pipeline … --executor dask --scheduler ADDRESS`` is
timed as a subprocess, the whole CLI including Python start-up and model loading on the workers.

(b) Memory. ``--images`` (default 2,000) smaller variants: the 16 fixture photos downscaled to a
long edge of ``--edge`` px (default 640), each copy with its own pixel patch — real faces, distinct
content, and a run that fits in minutes on 2 cores. ``pipeline process`` (then ``pipeline audit``)
with the local pool of 2 workers; the summed resident memory of the whole process tree
(coordinator + workers) is sampled every 20 ms by ``benchmarks/perf.py``'s ``measure``, and here
also every 0.25 s together with the number of photos finished (jobs done / audit cache rows read
from the workspace database), to report the peak up to 250, 500, 1000 and 2000 images.

Writes benchmarks/results/scale.md (raw numbers in benchmarks/results/scale-*.json).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perf import FIXTURES, PY, REGISTER, ROOT, fmt_mb, measure  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
CHECKPOINTS = (250, 500, 1000, 2000)
PIPELINE = [str(PY), "-m", "pipeline.cli"]


# --------------------------------------------------------------------------- inputs

def base_photos() -> list[Path]:
    return [f for sub in ("events", "groups") for f in sorted((FIXTURES / sub).glob("*.jpg"))]


def variants(dest: Path, count: int, edge: int | None) -> int:
    """``count`` distinct JPEGs made from the fixture photos (round robin), downscaled to ``edge`` if given."""
    import numpy as np
    from PIL import Image, ImageOps

    dest.mkdir(parents=True)
    bases = []
    for f in base_photos():
        with Image.open(f) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
            if edge and max(im.size) > edge:
                im.thumbnail((edge, edge), Image.LANCZOS)
            bases.append((f.stem, np.asarray(im).copy()))
    for i in range(count):
        stem, pixels = bases[i % len(bases)]
        px = pixels.copy()
        n = i // len(bases)
        px[0:2, 0:2] = [(n * 37) % 256, (n * 91 + 17) % 256, (n // 256 * 53 + 101) % 256]  # this copy's mark
        Image.fromarray(px).save(dest / f"{i:05d}_{stem}.jpg", "JPEG", quality=92)
    return count


def template_workspace(tmp: Path) -> Path:
    """One enrolled workspace (init, register, the fixture people's reference photos), copied per run."""
    ws = tmp / "template-ws"
    (tmp / "register.csv").write_text(REGISTER, encoding="utf-8")
    for args in (["init", str(ws)], ["--workspace", str(ws), "consent", "import", str(tmp / "register.csv")],
                 ["--workspace", str(ws), "consent", "enrol", str(FIXTURES / "enrol")]):
        subprocess.run(PIPELINE + args, check=True, capture_output=True, cwd=ROOT)
    return ws


def fresh(template: Path, tmp: Path, name: str) -> Path:
    ws = tmp / name
    shutil.rmtree(ws, ignore_errors=True)
    shutil.copytree(template, ws)
    return ws


def command(kind: str, ws: Path, photos: Path, report: Path, extra: list[str]) -> list[str]:
    if kind == "process":
        return PIPELINE + ["--workspace", str(ws), "process", str(photos), "--json", *extra]
    return PIPELINE + ["--workspace", str(ws), "audit", str(photos), "--format", "json", "--output", str(report),
                       *extra]


def check(kind: str, m: dict, n: int, report: Path) -> int:
    """Every photo accounted for; returns the number of faces found."""
    if m["rc"] not in (0, 1):
        raise SystemExit(f"pipeline {kind} failed ({m['rc']}):\n{m['stderr'][-3000:]}")
    text = m["stdout"] if kind == "process" else report.read_text("utf-8")
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    if len(records) != n:
        raise SystemExit(f"pipeline {kind}: {len(records)} records for {n} photos")
    if kind == "audit" and sum(bool(r["checked"]) for r in records) != n:
        raise SystemExit("pipeline audit: some photos were not checked")
    return sum(len(r["faces"]) for r in records)


# --------------------------------------------------------------------------- (a) throughput

def dask_cluster(workers: int):
    import distributed

    cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=40)
    return cluster


def throughput(tmp: Path, template: Path, copies: int, rounds: int) -> dict:
    photos = tmp / "throughput-photos"
    n = variants(photos, copies * len(base_photos()), None)
    configs = [("local", 1), ("local", 2), ("dask", 1), ("dask", 2)]
    rows = []
    for rnd in range(rounds):
        for kind in ("process", "audit"):
            for executor, workers in configs:
                ws = fresh(template, tmp, "ws-throughput")
                report = tmp / "report.jsonl"
                load = os.getloadavg()[0]
                if executor == "local":
                    m = measure(command(kind, ws, photos, report, ["--workers", str(workers)]), cwd=ROOT)
                    cpu = m["cpu"]
                else:
                    with dask_cluster(workers) as cluster:
                        before = cluster_cpu()
                        m = measure(command(kind, ws, photos, report, ["--executor", "dask", "--scheduler",
                                                                       cluster.scheduler_address]), cwd=ROOT)
                        after = cluster_cpu()
                    cpu = m["cpu"] + sum(t - before.get(pid, 0.0) for pid, t in after.items())
                faces = check(kind, m, n, report)
                row = {"round": rnd + 1, "command": kind, "executor": executor, "workers": workers, "images": n,
                       "wall": m["wall"], "images_per_s": n / m["wall"], "faces": faces, "load_before": load,
                       "cpu": cpu, "peak_rss_cli_tree": m["peak_rss"]}
                rows.append(row)
                print(f"{kind:7} {executor:5} x{workers}: {m['wall']:6.1f} s, {n / m['wall']:.2f} images/s, "
                      f"CPU {cpu:.1f} s, {faces} faces, load {load:.1f}", file=sys.stderr)
                shutil.rmtree(ws, ignore_errors=True)
    return {"images": n, "copies": copies, "rounds": rounds, "rows": rows,
            "bytes": sum(p.stat().st_size for p in photos.iterdir())}


def cluster_cpu() -> dict[int, float]:
    """CPU seconds so far of each process this script started (the LocalCluster's workers and nannies)."""
    import psutil

    out = {}
    for p in psutil.Process().children(recursive=True):
        try:
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
        except psutil.Error:
            pass
    return out


# --------------------------------------------------------------------------- (b) memory

def tree_rss() -> int:
    """Summed RSS of every process this script started (the measured CLI and its workers)."""
    import psutil

    total = 0
    for p in psutil.Process().children(recursive=True):
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def finished(db: Path, kind: str) -> int:
    sql = ("SELECT count(*) FROM jobs WHERE state='done'" if kind == "process"
           else "SELECT count(*) FROM audit_cache")
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2)
        try:
            return conn.execute(sql).fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return -1


def memory(tmp: Path, template: Path, images: int, edge: int, workers: int) -> dict:
    photos = tmp / "memory-photos"
    started = time.perf_counter()
    variants(photos, images, edge)
    generated = time.perf_counter() - started
    out = {"images": images, "edge": edge, "workers": workers, "generate_s": generated,
           "bytes": sum(p.stat().st_size for p in photos.iterdir()), "runs": {}}
    for kind in ("process", "audit"):
        ws = fresh(template, tmp, f"ws-memory-{kind}")
        report = tmp / "memory-report.jsonl"
        samples: list[tuple[float, int, int]] = []
        result: dict = {}
        runner = threading.Thread(target=lambda: result.update(
            measure(command(kind, ws, photos, report, ["--workers", str(workers)]), cwd=ROOT)))
        t0 = time.perf_counter()
        runner.start()
        last = 0
        while runner.is_alive():
            done = finished(ws / "pipeline.db", kind)
            last = max(last, done)
            samples.append((time.perf_counter() - t0, last, tree_rss()))
            runner.join(0.25)
        faces = check(kind, result, images, report)
        peaks = {}
        for cp in [c for c in CHECKPOINTS if c <= images] or [images]:
            upto = [rss for _, done, rss in samples if done <= cp]
            peaks[cp] = max(upto) if upto else None
        out["runs"][kind] = {"wall": result["wall"], "cpu": result["cpu"], "peak_rss": result["peak_rss"],
                             "peak_by_images": peaks, "faces": faces, "images_per_s": images / result["wall"],
                             "samples": samples[:: max(1, len(samples) // 400)]}
        print(f"{kind:7} {images} images: {result['wall']:.0f} s, peak {fmt_mb(result['peak_rss'])}, "
              + ", ".join(f"≤{k}: {fmt_mb(v or 0)}" for k, v in peaks.items()), file=sys.stderr)
        shutil.rmtree(ws, ignore_errors=True)
    return out


# --------------------------------------------------------------------------- report

def report_md(tp: dict | None, mem: dict | None) -> str:
    lines = ["# Scale: workers, Dask and memory", "",
             f"Machine: {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
             f"{platform.system()} {platform.release()}. Other engineers' jobs share the machine: the load average "
             "before each run is shown.", ""]
    if tp:
        lines += ["## (a) Throughput, 1 vs 2 workers", "",
                  f"{tp['images']} photos ({tp['bytes'] / 1e6:.1f} MB): {tp['copies']} distinct variants of each of the "
                  "16 fixture photos (faces/events + faces/groups, full size). Fresh enrolled workspace per run "
                  "(nothing cached). Wall time of the whole CLI; Dask clusters (LocalCluster, one thread per "
                  "worker process) were started before the clock. CPU = the CLI's process tree plus, for Dask, "
                  "the cluster's worker processes; 'cores busy' near the worker count means the workers ran "
                  "in parallel, lower means they waited (start-up, the coordinator, or other jobs on the machine). "
                  + (f"Median of {tp['rounds']} rounds." if tp["rounds"] > 1 else "One round."), "",
                  "| command | executor | workers | wall (s) | images/s | speed-up vs 1 worker | CPU (s) | "
                  "cores busy (CPU/wall) | faces | load before |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        groups: dict[tuple, list] = {}
        for r in tp["rows"]:
            groups.setdefault((r["command"], r["executor"], r["workers"]), []).append(r)
        med = {k: sorted(v, key=lambda r: r["wall"])[len(v) // 2] for k, v in groups.items()}
        for (cmd, ex, w), r in med.items():
            one = med.get((cmd, ex, 1))
            speed = f"{one['wall'] / r['wall']:.2f}×" if one else "—"
            cpu = r.get("cpu")
            cpu_cols = f"{cpu:.1f} | {cpu / r['wall']:.2f}" if cpu is not None else "— | —"
            lines.append(f"| `pipeline {cmd}` | {ex} | {w} | {r['wall']:.1f} | {r['images_per_s']:.2f} | {speed} | "
                         f"{cpu_cols} | {r['faces']} | {r['load_before']:.1f} |")
        lines += ["", "All runs (s): " + "; ".join(
            f"{c} {e}×{w}: " + ", ".join(f"{x['wall']:.1f}" for x in v) for (c, e, w), v in groups.items()) + ".", ""]
    if mem:
        lines += ["## (b) Memory over a long batch", "",
                  f"{mem['images']} photos ({mem['bytes'] / 1e6:.0f} MB): the 16 fixture photos downscaled to a long "
                  f"edge of {mem['edge']} px (smaller than camera photos so that {mem['images']} fit in minutes on 2 "
                  "cores; they still hold the real faces), each copy with its own 2×2 pixel mark, so all are "
                  f"distinct. Local pool, {mem['workers']} workers. Peak = largest summed resident memory of the whole "
                  "process tree (coordinator + workers).", "",
                  "| command | wall (s) | images/s | faces | " + " | ".join(
                      f"peak up to {c} images" for c in mem["runs"]["process"]["peak_by_images"]) + " |",
                  "|---|---:|---:|---:|" + "---:|" * len(mem["runs"]["process"]["peak_by_images"])]
        for kind, r in mem["runs"].items():
            lines.append(f"| `pipeline {kind}` | {r['wall']:.0f} | {r['images_per_s']:.2f} | {r['faces']} | "
                         + " | ".join(fmt_mb(v or 0) for v in r["peak_by_images"].values()) + " |")
        lines += ["", "Peaks per checkpoint come from this script's sampler (every 0.25 s, with the count of finished "
                  "photos); `perf.measure`'s own 20 ms sampler of the CLI's tree saw a whole-run peak of "
                  + " and ".join(f"{fmt_mb(r['peak_rss'])} ({k})" for k, r in mem["runs"].items()) + ".", ""]
        for kind, r in mem["runs"].items():
            peaks = [v for v in r["peak_by_images"].values() if v]
            if len(peaks) > 1:
                first, last = peaks[0], peaks[-1]
                lines.append(f"- `{kind}`: {'+' if last >= first else ''}{(last - first) / 1e6:,.0f} MB "
                             f"({(last - first) / first:+.0%}) from the first to the last checkpoint.")
        lines.append("")
    rounds = f" --rounds {tp['rounds']}" if tp and tp["rounds"] > 1 else ""
    lines += [f"Reproduce: `.venv/bin/python benchmarks/scale.py --parts throughput{rounds}` and "
              "`.venv/bin/python benchmarks/scale.py --parts memory --images 2000` (or both at once without "
              "`--parts`). Needs ../shared/fixtures and the 'dask' extra.", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default="throughput,memory",
                    help="throughput, memory or both (comma-separated); 'report' only rewrites scale.md from the saved numbers")
    ap.add_argument("--copies", type=int, default=2, help="(a) variants of each of the 16 photos")
    ap.add_argument("--rounds", type=int, default=1, help="(a) rounds; the median is shown")
    ap.add_argument("--images", type=int, default=2000, help="(b) photos in the long batch")
    ap.add_argument("--edge", type=int, default=640, help="(b) long edge of those photos, px")
    ap.add_argument("--workers", type=int, default=2, help="(b) local workers")
    ap.add_argument("--output", default=str(RESULTS / "scale.md"))
    args = ap.parse_args()
    if not FIXTURES.is_dir():
        raise SystemExit(f"The fixture photos are missing: expected {FIXTURES} (clone the project next to ../shared).")
    parts = set(args.parts.split(","))
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="scale-"))
    try:
        template = template_workspace(tmp) if parts & {"throughput", "memory"} else None
        if "throughput" in parts:
            tp = throughput(tmp, template, args.copies, args.rounds)
            (RESULTS / "scale-throughput.json").write_text(json.dumps(tp, indent=1))
        if "memory" in parts:
            mem = memory(tmp, template, args.images, args.edge, args.workers)
            (RESULTS / "scale-memory.json").write_text(json.dumps(mem, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    saved = {name: json.loads((RESULTS / f"scale-{name}.json").read_text())
             for name in ("throughput", "memory") if (RESULTS / f"scale-{name}.json").exists()}
    text = report_md(saved.get("throughput"), saved.get("memory"))
    print(text)
    Path(args.output).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
