"""How fast the console's gallery answers with 5,000 approved photos (issue 13: under 0.5 s a page).

Builds a workspace holding 5,000 released photos on the website channel (real small JPEG files,
rows as the pipeline writes them), starts `pipeline serve` (waitress) in a subprocess, signs in as
comms and times whole HTTP requests over the loopback: the first, a middle and the last gallery
page, /healthz in the same run as the floor, and thumbnails (first time: made; then: cached).

    .venv/bin/python benchmarks/console_gallery.py [--photos 5000] [--repeat 15]

Numbers on a shared machine are noisy: compare the ratio to /healthz measured in the same run.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build(root: Path, photos: int) -> None:
    from PIL import Image

    from console.accounts import add_user
    from consent.database import now_iso, transaction
    from pipeline.workspace import init_workspace

    ws = init_workspace(root)
    add_user(ws.db, "comms1", "comms", "benchmark password", actor="benchmark")
    out = root / "approved" / "website"
    now = now_iso()
    with transaction(ws.db):
        for i in range(photos):
            im = Image.new("RGB", (640, 480), ((i * 7) % 255, (i * 13) % 255, (i * 29) % 255))
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=70)
            data = buf.getvalue()
            sha = hashlib.sha256(data).hexdigest()
            name = f"2026-11-{1 + i % 28:02d}_{sha[:12]}.jpg"
            (out / name).write_bytes(data)
            cur = ws.db.execute(
                "INSERT INTO jobs(source, sha256, state, status, reason, received_at, finished_at, actor, result_json)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (f"inbox/teacher{i % 40}/IMG_{i:05d}.jpg", sha, "done", "released", "1 face kept", now, now,
                 "benchmark", "{}"))
            ws.db.execute("INSERT INTO outputs(job_id, channel, path, caption, sha256, state, created_at, updated_at)"
                          " VALUES (?,?,?,?,?,'live',?,?)",
                          (cur.lastrowid, "website", f"approved/website/{name}", f"Sports day, photo {i}", sha,
                           f"2026-11-{1 + i % 28:02d}T10:{i % 60:02d}:00+00:00", now))
    ws.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    import http.client

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        t0 = time.perf_counter()
        build(root, args.photos)
        print(f"built a workspace with {args.photos} approved photos in {time.perf_counter() - t0:.1f} s")
        env = dict(os.environ, PIPELINE_WORKSPACE=str(root), PYTHONUNBUFFERED="1")
        proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "serve", "--port", "0"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            url = re.search(r"(http://127\.0\.0\.1:(\d+)/)", proc.stdout.readline())
            port = int(url.group(2))

            def request(path, method="GET", body=None, headers=None):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                start = time.perf_counter()
                conn.request(method, path, body=body, headers=headers or {})
                resp = conn.getresponse()
                data = resp.read()
                took = time.perf_counter() - start
                conn.close()
                return resp.status, resp, data, took

            _, resp, body, _ = request("/login")
            cookie = resp.getheader("Set-Cookie").split(";", 1)[0]
            token = re.search(rb'name="csrf_token" value="([^"]+)"', body).group(1).decode()
            form = urllib.parse.urlencode({"username": "comms1", "password": "benchmark password", "csrf_token": token})
            status, resp, _, _ = request("/login", "POST", form, {"Cookie": cookie,
                                                                  "Content-Type": "application/x-www-form-urlencoded"})
            assert status == 303, status
            cookie = resp.getheader("Set-Cookie").split(";", 1)[0]
            h = {"Cookie": cookie}
            pages = (args.photos + 47) // 48
            rows = []
            for label, path in (("/healthz (floor)", "/healthz"), ("gallery page 1", "/approved/website"),
                                (f"gallery page {pages // 2}", f"/approved/website?page={pages // 2}"),
                                (f"gallery page {pages} (last)", f"/approved/website?page={pages}")):
                times = []
                for _ in range(args.repeat):
                    status, _, data, took = request(path, headers=h)
                    assert status == 200, (path, status)
                    times.append(took)
                rows.append((label, statistics.median(times), max(times), len(data)))
            _, _, page1, _ = request("/approved/website", headers=h)
            thumbs = re.findall(rb'src="(/approved/website/\d+/thumb\.jpg\?v=[0-9a-f]+)"', page1)
            first = [request(t.decode(), headers=h)[3] for t in thumbs]
            again = [request(t.decode(), headers=h)[3] for t in thumbs]
            times = [request("/approved/website", headers=h)[3] for _ in range(args.repeat)]
            rows.append(("gallery page 1, thumbs made", statistics.median(times), max(times), len(page1)))
            floor = rows[0][1]
            print(f"{'request':<28}{'median s':>10}{'max s':>10}{'x floor':>10}{'bytes':>10}")
            for label, med, mx, size in rows:
                print(f"{label:<28}{med:>10.4f}{mx:>10.4f}{med / floor:>10.1f}{size:>10}")
            print(f"thumbnails of page 1 ({len(thumbs)}): first time median {statistics.median(first):.4f} s "
                  f"(made and cached), then {statistics.median(again):.4f} s (from the cache)")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
