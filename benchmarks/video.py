"""Speed of `pipeline process` on video clips against deface, on the same clips, in the same run.

    .venv/bin/python benchmarks/video.py                  # 720p and 1080p, 4 s at 30 fps, 1 round
    .venv/bin/python benchmarks/video.py --seconds 2 --rounds 3

The clips are made here from fixture photos (tests/video_clips.py): the camera pans across
``events/obama_and_biden.jpg`` (two people in the register and a stranger) and across
``groups/bald_guys.jpg`` (about two dozen faces), at 1280x720 and 1920x1080, 30 fps, with sound.

- deface (CenterFace + blur only, ``pip install deface`` into benchmarks/.peers/deface, as
  benchmarks/perf.py does): ``deface CLIP -o OUT`` with default settings, with ``--backend onnxrt``
  (its fastest CPU backend, multi-threaded) and with ``--backend opencv`` (what ``pip install
  deface`` alone gives).
- ours: ``pipeline process CLIP --json`` in a workspace with the five fixture people registered
  and enrolled: probe, faces on every frame (upright pass every frame, turned passes every fourth),
  tracks identified and decided per channel, four channels rendered (H.264, sound copied,
  metadata dropped, poster frame), recorded. The whole CLI is timed, start-up included.

Frames per second = frames of the clip / wall-clock seconds. Peak memory is the largest summed
resident memory of the tool's process tree. Writes benchmarks/results/video.md.
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import perf  # noqa: E402  (the peers' throwaway venvs and the process-tree measurement)
from tests import video_clips as clips  # noqa: E402

FIXTURES = ROOT.parent / "shared" / "fixtures" / "faces"
RESULTS = ROOT / "benchmarks" / "results"
SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}
SCENES = {"people": "events/obama_and_biden.jpg", "group": "groups/bald_guys.jpg"}


def make_clips(tmp: Path, seconds: float, fps: int) -> list[tuple[str, str, Path, int]]:
    out = []
    for label, size in SIZES.items():
        for scene, rel in SCENES.items():
            img = clips.load(FIXTURES / rel, max_edge=2400)
            path = tmp / f"{scene}_{label}.mp4"
            clips.write_clip(path, clips.pan(img, seconds, fps, size), fps=fps, audio=True)
            out.append((label, scene, path, int(seconds * fps)))
    return out


def workspace(tmp: Path) -> Path:
    ws = tmp / "ws"
    pipeline = [str(ROOT / ".venv" / "bin" / "pipeline")]
    subprocess.run(pipeline + ["init", str(ws)], check=True, capture_output=True)
    (tmp / "register.csv").write_text(perf.REGISTER, encoding="utf-8")
    subprocess.run(pipeline + ["--workspace", str(ws), "consent", "import", str(tmp / "register.csv")],
                   check=True, capture_output=True)
    subprocess.run(pipeline + ["--workspace", str(ws), "consent", "enrol", str(FIXTURES / "enrol")],
                   check=True, capture_output=True)
    return ws


def run_ours(ws: Path, clip: Path, tmp: Path) -> dict:
    own = Path(tempfile.mkdtemp(prefix="ours-", dir=tmp))
    shutil.copytree(ws, own / "ws")  # a copy of the enrolled workspace: the clip is never a duplicate
    m = perf.measure([str(ROOT / ".venv" / "bin" / "pipeline"), "--workspace", str(own / "ws"), "process",
                      str(clip), "--json"])
    if m["rc"] != 0:
        raise SystemExit(f"pipeline failed ({m['rc']}):\n{m['stderr'][-3000:]}")
    rec = json.loads(m["stdout"].splitlines()[-1])
    m["status"] = rec["status"]
    m["tracks"] = len(rec.get("tracks", []))
    shutil.rmtree(own, ignore_errors=True)
    return m


def run_deface(env: Path, clip: Path, tmp: Path, backend: str) -> dict:
    out = Path(tempfile.mkdtemp(prefix="deface-", dir=tmp)) / clip.name
    m = perf.measure([str(env / "bin" / "deface"), "--backend", backend, "--keep-audio", str(clip), "-o", str(out)])
    if m["rc"] != 0 or not out.exists():
        raise SystemExit(f"deface failed ({m['rc']}):\n{m['stderr'][-3000:]}")
    return m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    env = perf.deface_env()
    tmp = Path(tempfile.mkdtemp(prefix="video-bench-"))
    try:
        made = make_clips(tmp, args.seconds, args.fps)
        ws = workspace(tmp)
        tools = {"ours": lambda c: run_ours(ws, c, tmp),
                 "deface_onnx": lambda c: run_deface(env, c, tmp, "onnxrt"),
                 "deface": lambda c: run_deface(env, c, tmp, "opencv")}
        rows = []
        for label, scene, clip, frames in made:
            runs = {k: [] for k in tools}
            for r in range(args.rounds):
                order = list(tools)[r % len(tools):] + list(tools)[:r % len(tools)]
                for k in order:
                    runs[k].append(tools[k](clip))
                    print(f"{scene} {label} {k}: {runs[k][-1]['wall']:.1f} s", file=sys.stderr)
            med = {k: statistics.median(m["wall"] for m in v) for k, v in runs.items()}
            peak = {k: max(m["peak_rss"] for m in v) for k, v in runs.items()}
            rows.append((label, scene, frames, med, peak, runs["ours"][-1]))
        lines = ["# Video: `pipeline process` against deface on the same clips, same run", "",
                 f"Machine: {platform.machine()}, {_cores()} cores, Python {platform.python_version()}; deface {perf.version_of(env, 'deface')}, "
                 f"onnxruntime {perf.version_of(env, 'onnxruntime')} (deface's). "
                 f"Clips: {args.seconds:g} s at {args.fps} fps with sound, {args.rounds} round(s), median wall time. "
                 "The machine is shared: compare within a row, not across runs.", "",
                 "| clip | frames | ours fps | deface (onnxrt) fps | deface (opencv) fps | ours / deface onnxrt | "
                 "ours / deface opencv | peak memory ours / deface onnxrt | ours: status, tracks |",
                 "|---|---|---|---|---|---|---|---|---|"]
        for label, scene, frames, med, peak, last in rows:
            fps = {k: frames / v for k, v in med.items()}
            lines.append(f"| {scene} {label} | {frames} | {fps['ours']:.2f} | {fps['deface_onnx']:.2f} | "
                         f"{fps['deface']:.2f} | {fps['ours'] / fps['deface_onnx']:.2f}x | "
                         f"{fps['ours'] / fps['deface']:.2f}x | {perf.fmt_mb(peak['ours'])} / "
                         f"{perf.fmt_mb(peak['deface_onnx'])} | {last['status']}, {last['tracks']} |")
        lines += ["", "ours/deface > 1 means the pipeline is faster. Ours does more per frame than deface "
                  "(identification, four channels, poster, record); deface only detects and blurs.", "",
                  "Reproduce: `.venv/bin/python benchmarks/video.py`"]
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "video.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print("\n".join(lines))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
