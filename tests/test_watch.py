"""`pipeline watch` end to end, as real subprocesses: drain, kill -9 mid-burst, slow writers,
SIGTERM, native and polling modes, permission denied, the bounded pool."""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, PIPELINE, run_pipeline
from tests.watch_helpers import (REPO, assert_every_input_exactly_once, assert_nothing_partial, done_count,
                                 drop_mixed, inbox_leftovers, jobs, jpeg_bytes, make_workspace, start_watcher,
                                 wait_for, write)


def fixture_events() -> Path | None:
    path = FIXTURES / "faces" / "events"
    return path if path.is_dir() else None


def stop(proc: subprocess.Popen, sig=signal.SIGTERM, timeout=120) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    return proc.wait(timeout=timeout)


def test_once_drains_a_mixed_drop_of_fifty_files(tmp_path):
    root = make_workspace(tmp_path / "ws", stable=0.3, workers=2)
    dropped = drop_mixed(root / "inbox", fixtures=fixture_events())
    assert len(dropped["inputs"]) >= 45
    r = run_pipeline("--workspace", root, "watch", "--once", "--json", cwd=REPO)
    assert r.returncode == 1, r.stderr  # some inputs were rejected
    assert_every_input_exactly_once(root, dropped)
    rows = {row["source"]: row for row in jobs(root)}
    # one log line per input, on stderr, control characters escaped
    for source in dropped["inputs"]:
        shown = source.replace("\n", "\\n").replace("\u202e", "\\u202e")
        assert shown in r.stderr, source
    assert "Inbox drained:" in r.stderr
    assert "Traceback" not in r.stderr
    # one JSON record per input on stdout
    records = [line for line in r.stdout.splitlines() if line.strip()]
    assert len(records) == len(dropped["inputs"])
    # duplicates recognised, not processed twice
    dup = [row for row in rows.values() if (row["reason"] or "").startswith("duplicate")]
    assert len(dup) == 1 and {dup[0]["source"]} <= {"inbox/ben/copy of DSC00000.JPG", "inbox/ben/DSC00000.JPG"}
    # captions travelled with their photos, the lone one was rejected as an input of its own
    assert rows["inbox/anna/IMG_0000.jpg"]["caption"] == "Relay team at sports day"
    assert rows["inbox/anna/IMG_0001.jpg"]["caption"] == "Egg and spoon race"
    assert rows["inbox/cara/notes.txt"]["status"] == "rejected"
    # links were moved as links: the quarantined entry is still a link, /etc/passwd untouched
    link = root / rows["inbox/ben/passwd.jpg"]["original_path"]
    assert link.is_symlink() and os.readlink(link) == "/etc/passwd"
    assert "symbolic link" in rows["inbox/ben/passwd.jpg"]["reason"]
    # the folder dropped whole was emptied and removed; staff folders kept
    assert not (root / "inbox" / "cara" / "Sports Day").exists()
    assert {p.name for p in (root / "inbox").iterdir()} == {"anna", "ben", "cara"}
    # a second run has nothing to do and exits 0
    r2 = run_pipeline("--workspace", root, "watch", "--once", cwd=REPO)
    assert r2.returncode == 0, r2.stderr
    assert len(jobs(root)) == len(dropped["inputs"])


def test_kill_9_mid_burst_then_once_finishes_everything_exactly_once(tmp_path):
    root = make_workspace(tmp_path / "ws", stable=0.3, workers=2)
    log = tmp_path / "watch.log"
    proc = start_watcher(root, log)
    try:
        wait_for(lambda: "watching" in log.read_text(), 60, "the watcher to start")
        dropped = drop_mixed(root / "inbox", seed=1)
        total = len(dropped["inputs"])
        wait_for(lambda: done_count(root) >= 8, 120, "a few files to be processed")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert done_count(root) < total, "the burst finished before the kill; the test proves nothing"
    r = run_pipeline("--workspace", root, "watch", "--once", cwd=REPO)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert_every_input_exactly_once(root, dropped)


def test_kill_9_of_the_whole_process_group_is_recovered_too(tmp_path):
    """Workers killed as well (e.g. systemd's SIGKILL): jobs in flight are redone, temp files removed."""
    root = make_workspace(tmp_path / "ws", stable=0.3, workers=2)
    log = tmp_path / "watch.log"
    proc = subprocess.Popen([*PIPELINE, "--workspace", str(root), "watch"], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=open(log, "wb"), start_new_session=True)
    try:
        wait_for(lambda: "watching" in log.read_text(), 60, "the watcher to start")
        dropped = drop_mixed(root / "inbox", seed=2)
        wait_for(lambda: done_count(root) >= 5, 120, "a few files to be processed")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # what a writer killed mid-write leaves (whether or not this kill happened to catch one)
    half = root / "approved" / "website" / ".2026-01-01_0123456789ab.jpg.k2j3h4g5.tmp"
    half.write_bytes(jpeg_bytes(5)[:500])
    r = run_pipeline("--workspace", root, "watch", "--once", cwd=REPO)
    assert r.returncode == 1, r.stderr
    assert not half.exists()
    assert_every_input_exactly_once(root, dropped)


def slow_write(path: Path, data: bytes, *, seconds: float, chunks: int, pause_at: int | None = None,
               pause: float = 0.0) -> threading.Thread:
    def run():
        with open(path, "wb") as fh:
            for i in range(chunks):
                fh.write(data[i * len(data) // chunks:(i + 1) * len(data) // chunks])
                fh.flush()
                os.fsync(fh.fileno())
                time.sleep(pause if i == pause_at else seconds / chunks)

    path.parent.mkdir(parents=True, exist_ok=True)
    t = threading.Thread(target=run)
    t.start()
    return t


@pytest.mark.parametrize("mode", ["native", "polling"])
def test_slow_writers_are_processed_once_complete(tmp_path, mode):
    """A JPEG written in chunks over ~3 s, and one whose writer stalls longer than stable_seconds
    half way: each is processed exactly once, from its complete content."""
    root = make_workspace(tmp_path / "ws", stable=0.6, workers=2, mode=mode, poll=0.3)
    log = tmp_path / "watch.log"
    proc = start_watcher(root, log)
    try:
        wait_for(lambda: "watching" in log.read_text(), 60, "the watcher to start")
        assert f"({mode} mode" in log.read_text()
        steady = jpeg_bytes(11, size=(1000, 750))
        stalling = jpeg_bytes(12, size=(1000, 750))
        a = slow_write(root / "inbox" / "anna" / "phone.jpg", steady, seconds=3.0, chunks=15)
        # stalls 1.2 s (> stable_seconds 0.6, < 3 x stable_seconds) after half the file
        b = slow_write(root / "inbox" / "ben" / "share.jpg", stalling, seconds=1.0, chunks=10, pause_at=4, pause=1.2)
        a.join()
        b.join()
        wait_for(lambda: done_count(root) >= 2 and not inbox_leftovers(root), 60, "both files to be processed")
        time.sleep(1.5)  # time enough to process anything twice, if it were going to be
        assert stop(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    rows = jobs(root)
    assert sorted(r["source"] for r in rows) == ["inbox/anna/phone.jpg", "inbox/ben/share.jpg"]
    by = {r["source"]: r for r in rows}
    assert by["inbox/anna/phone.jpg"]["sha256"] == hashlib.sha256(steady).hexdigest()
    assert by["inbox/ben/share.jpg"]["sha256"] == hashlib.sha256(stalling).hexdigest()
    assert all(r["status"] == "released" for r in rows), [dict(r) for r in rows]
    text = log.read_text()
    assert "waiting   inbox/ben/share.jpg" in text  # the stall was noticed: it did not decode yet
    assert text.count("released  inbox/") == 2
    assert_nothing_partial(root)


def test_sigterm_finishes_the_files_in_hand_and_leaves_the_rest_untouched(tmp_path):
    root = make_workspace(tmp_path / "ws", stable=0.2, workers=1)
    log = tmp_path / "watch.log"
    proc = start_watcher(root, log)
    try:
        wait_for(lambda: "watching" in log.read_text(), 60, "the watcher to start")
        names = [f"img{i:02d}.jpg" for i in range(25)]
        for i, name in enumerate(names):
            write(root / "inbox" / "dan" / name, jpeg_bytes(900 + i, size=(640, 480)))
        wait_for(lambda: done_count(root) >= 2, 60, "two files to be processed")
        assert stop(proc, signal.SIGTERM, timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert "stopping" in text and "Watcher stopped." in text
    rows = jobs(root)
    assert all(r["state"] == "done" for r in rows)  # nothing left half done
    left = inbox_leftovers(root)
    assert len(rows) + len(left) == 25 and left, "SIGTERM came after everything was done"
    for rel in left:  # the files not taken are untouched
        i = names.index(Path(rel).name)
        assert (root / rel).read_bytes() == jpeg_bytes(900 + i, size=(640, 480))
    r = run_pipeline("--workspace", root, "watch", "--once", cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert len(jobs(root)) == 25 and not inbox_leftovers(root)


def test_second_watcher_is_refused_plainly(tmp_path):
    root = make_workspace(tmp_path / "ws", stable=0.2, workers=1)
    log = tmp_path / "watch.log"
    proc = start_watcher(root, log)
    try:
        wait_for(lambda: "watching" in log.read_text(), 60, "the watcher to start")
        r = run_pipeline("--workspace", root, "watch", cwd=REPO)
        assert r.returncode == 2
        assert r.stderr.startswith("Error: another 'pipeline watch'") and str(proc.pid) in r.stderr
        assert "Traceback" not in r.stderr
        # issue 16: cron's `watch --once` beside the service says so and exits 0 (the work is being done)
        r = run_pipeline("--workspace", root, "watch", "--once", cwd=REPO)
        assert r.returncode == 0 and "already running" in r.stderr and str(proc.pid) in r.stderr
        assert stop(proc, signal.SIGINT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.skipif(not shutil.which("setpriv"), reason="needs setpriv (util-linux) to drop root's read-anything power")
def test_permission_denied_file_is_quarantined_with_a_reason(tmp_path):
    root = make_workspace(tmp_path / "ws", stable=0.2, workers=1)
    secret = write(root / "inbox" / "eve" / "locked.jpg", jpeg_bytes(1))
    write(root / "inbox" / "eve" / "fine.jpg", jpeg_bytes(2))
    os.chmod(secret, 0)
    cmd = [*PIPELINE, "--workspace", str(root), "watch", "--once"]
    if os.geteuid() == 0:  # root reads every file; drop the capabilities that let it
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *cmd]
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr
    rows = {row["source"]: row for row in jobs(root)}
    assert rows["inbox/eve/fine.jpg"]["status"] == "released"
    locked = rows["inbox/eve/locked.jpg"]
    assert locked["status"] == "rejected" and "permission denied" in locked["reason"]
    assert (root / locked["original_path"]).parent.name == "quarantine"
    assert not inbox_leftovers(root)


def test_pool_never_holds_more_than_twice_the_workers(tmp_path):
    """A burst of files: at most 2 x workers are handed out at once, and the bound is reached."""
    from pipeline.workspace import open_workspace
    from watch_folders.watcher import Watcher

    root = make_workspace(tmp_path / "ws", stable=0.1, workers=1)
    for i in range(12):
        write(root / "inbox" / "f" / f"{i:02d}.jpg", jpeg_bytes(700 + i, size=(200 + i, 150)))
    seen = []

    class Counting(Watcher):
        def _pass(self):
            pending = super()._pass()
            seen.append(len(self._in_flight))
            return pending

    ws = open_workspace(root)
    try:
        summary = Counting(ws, once=True).run()
    finally:
        ws.close()
    assert summary.statuses["released"] == 12 and summary.exit_code == 0
    assert max(seen) == 2


def worker_pids(parent: int) -> list[int]:
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"spawn_main" in cmd:
            pids.append(int(pid))
    return pids


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the worker processes")
def test_a_crashed_worker_is_replaced_and_its_photo_finished(tmp_path):
    """A worker killed mid-burst (what the OOM killer does): the watcher keeps running, restarts its
    workers, finishes the interrupted job, and every file still ends exactly once."""
    root = make_workspace(tmp_path / "ws", stable=0.2, workers=2)
    log = tmp_path / "watch.log"
    proc = start_watcher(root, log)
    try:
        wait_for(lambda: "watching" in log.read_text(), 60, "the watcher to start")
        for i in range(20):
            write(root / "inbox" / "gus" / f"{i:02d}.jpg", jpeg_bytes(1200 + i, size=(640, 480)))
        wait_for(lambda: done_count(root) >= 3, 60, "a few files to be processed")
        victims = wait_for(lambda: worker_pids(proc.pid), 10, "the worker processes")
        os.kill(victims[0], signal.SIGKILL)
        wait_for(lambda: done_count(root) == 20 and not inbox_leftovers(root), 120, "every file to be processed")
        assert proc.poll() is None, "the watcher died with its worker"
        assert stop(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert "workers restarted" in text
    assert text.count("released  ") == 20  # one line per file, also for those the crash interrupted
    rows = jobs(root)
    assert len(rows) == 20 and len({r["source"] for r in rows}) == 20
    assert all(r["state"] == "done" and r["status"] == "released" for r in rows)
    assert len(list((root / "approved" / "website").glob("*.jpg"))) == 20
    assert_nothing_partial(root)
