"""The watcher's parts on real files: ignore rules, the inbox scan (links never followed),
stable-file detection, the decodable check, safe names, FIFO quarantine and its crash repair, locks."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from watch_folders import inbox as inbox_mod
from watch_folders.inbox import is_ignored_file, scan
from watch_folders.names import NAME_MAX, for_log, safe_component, text
from watch_folders.stability import StabilityTracker, decode_problem, settle_for


def jpeg_bytes(w=160, h=120, seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, "JPEG", quality=85)
    return buf.getvalue()


# ---------------------------------------------------------------- ignore rules

@pytest.mark.parametrize("name", [".DS_Store", "Thumbs.db", "thumbs.db", "desktop.ini", "~$report.docx",
                                  "IMG_1.jpg.part", "IMG_1.JPG.PART", "photo.crdownload", "x.tmp", "._IMG_1.jpg",
                                  ".IMG_1.jpg.Xa12bc", "notes.txt~"])
def test_temporary_and_hidden_names_are_ignored(name):
    assert is_ignored_file(name)


@pytest.mark.parametrize("name", ["IMG_1.jpg", "IMG_1.HEIC", "notes.txt", "part.jpg", "tmp.png", "a~b.jpg",
                                  "report.docx", "Thumbs.db.jpg"])
def test_ordinary_names_are_not_ignored(name):
    assert not is_ignored_file(name)


# ---------------------------------------------------------------- the scan

def test_scan_classifies_without_following_links(tmp_path):
    inbox = tmp_path / "inbox"
    anna = inbox / "anna"
    (anna / "sports day" / "heats").mkdir(parents=True)
    (inbox / "ben").mkdir()                        # an empty staff folder: kept, never listed
    (anna / "empty" / "deeper").mkdir(parents=True)  # empty below a staff folder: removable
    (anna / "IMG_1.jpg").write_bytes(jpeg_bytes())
    (anna / "IMG_1.txt").write_text("caption one")
    (anna / "IMG_2.jpg").write_bytes(jpeg_bytes(seed=2))
    (anna / "IMG_2.jpg.txt").write_text("caption two")
    (anna / "notes.txt").write_text("no photo of this name")
    (anna / "sports day" / "heats" / "run.png").write_bytes(b"\x89PNG not really")
    (anna / "Thumbs.db").write_bytes(b"x")
    (anna / "big.jpg.part").write_bytes(b"x")
    (anna / ".sync").mkdir()
    (anna / ".sync" / "hidden.jpg").write_bytes(jpeg_bytes())
    os.symlink("/etc/passwd", anna / "passwd.jpg")
    os.symlink("/", anna / "root")                 # a link to a folder must not be descended
    os.mkfifo(anna / "pipe.jpg")
    weird = "line\nbreak é\u202e.jpg"
    (anna / weird).write_bytes(jpeg_bytes(seed=3))
    long_name = "x" * 196 + ".jpg"
    (inbox / long_name).write_bytes(jpeg_bytes(seed=4))
    raw = os.path.join(os.fsencode(inbox), b"caf\xe9.jpg")  # not UTF-8
    with open(raw, "wb") as fh:
        fh.write(jpeg_bytes(seed=5))

    result = scan(inbox)
    kinds = {e.path.relative_to(inbox).as_posix(): e.kind for e in result.entries}
    assert kinds["anna/IMG_1.jpg"] == inbox_mod.PHOTO
    assert kinds["anna/IMG_1.txt"] == inbox_mod.CAPTION
    assert kinds["anna/IMG_2.jpg.txt"] == inbox_mod.CAPTION
    assert kinds["anna/notes.txt"] == inbox_mod.PHOTO        # a lone caption is an input of its own
    assert kinds["anna/sports day/heats/run.png"] == inbox_mod.PHOTO
    assert kinds["anna/passwd.jpg"] == inbox_mod.LINK
    assert kinds["anna/root"] == inbox_mod.LINK
    assert kinds["anna/pipe.jpg"] == inbox_mod.SPECIAL
    assert kinds[f"anna/{weird}"] == inbox_mod.PHOTO
    assert kinds[long_name] == inbox_mod.PHOTO
    assert kinds["anna/empty/deeper"] == inbox_mod.EMPTY_DIR
    assert "ben" not in kinds and "anna/empty" not in kinds  # staff folders / non-empty folders
    assert any(e.path == Path(os.fsdecode(raw)) and e.kind == inbox_mod.PHOTO for e in result.entries)
    # nothing from inside the link to / or the hidden folder
    assert not any("etc" in k or "hidden.jpg" in k for k in kinds)
    assert {p.name for p in result.ignored} == {"Thumbs.db", "big.jpg.part", ".sync"}
    by = result.by_path()
    assert by[anna / "IMG_1.jpg"].partners == (anna / "IMG_1.txt",)
    assert by[anna / "IMG_2.jpg"].partners == (anna / "IMG_2.jpg.txt",)
    # the link's signature is the link's own (lstat), not /etc/passwd's size
    assert by[anna / "passwd.jpg"].sig[0] == len("/etc/passwd")
    assert result.problems == []


def test_scan_reports_a_folder_it_cannot_list(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "anna").mkdir(parents=True)
    (inbox / "anna" / "a.jpg").write_bytes(jpeg_bytes())
    if os.geteuid() == 0:
        # root reads every folder; list a folder that vanished mid-scan instead: no error, no entry
        result = scan(inbox / "gone")
        assert result.entries == [] and result.problems == []
        return
    os.chmod(inbox / "anna", 0)
    try:
        result = scan(inbox)
    finally:
        os.chmod(inbox / "anna", 0o755)
    assert [p.name for p, _ in result.problems] == ["anna"]


# ---------------------------------------------------------------- stability

def test_stable_only_after_unchanged_for_the_interval():
    t = StabilityTracker(2.0)
    p = Path("inbox/a.jpg")
    t.observe(p, (10, 1, 7), 100.0)
    assert not t.is_stable(p, 100.0)              # seen once: never stable
    t.observe(p, (10, 1, 7), 101.0)
    assert not t.is_stable(p, 101.9)
    t.observe(p, (20, 2, 7), 102.0)               # grew: the clock restarts
    assert not t.is_stable(p, 103.9)
    t.observe(p, (20, 2, 7), 104.0)
    assert t.is_stable(p, 104.0)
    assert t.wait_hint(p, 104.0) == 0
    t.observe(p, (20, 3, 7), 104.5)               # same size, new mtime: still being written
    assert not t.is_stable(p, 105.0)


def test_incomplete_files_and_lone_captions_wait_longer():
    t = StabilityTracker(1.0)
    assert t.settle_seconds == settle_for(1.0) == 3.0
    p, cap = Path("a.jpg"), Path("notes.txt")
    for path in (p, cap):
        t.observe(path, (5, 5, 5), 0.0)
    assert t.is_stable(p, 1.0)
    t.mark_incomplete(p, (5, 5, 5))
    assert t.is_incomplete(p)
    assert not t.is_stable(p, 2.9) and t.is_stable(p, 3.0)
    assert not t.is_stable(cap, 2.9, long=True) and t.is_stable(cap, 3.0, long=True)
    t.observe(p, (6, 6, 5), 3.0)                  # changed again: back to the short interval, no longer incomplete
    assert not t.is_incomplete(p) and t.is_stable(p, 4.0)
    t.mark_incomplete(p, (1, 1, 1))               # a stale signature does not mark the new version
    assert not t.is_incomplete(p)
    t.keep_only([cap])
    assert t.stable_for(p, 10.0) < 0


def test_decode_problem_finds_truncated_empty_and_non_images(tmp_path):
    data = jpeg_bytes(640, 480)
    good = tmp_path / "good.jpg"
    good.write_bytes(data)
    assert decode_problem(good) is None
    for cut in (0.2, 0.5, 0.95):
        part = tmp_path / f"cut{cut}.jpg"
        part.write_bytes(data[: int(len(data) * cut)])
        assert decode_problem(part) is not None, cut
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert decode_problem(empty) == "empty file"
    text_file = tmp_path / "notes.jpg"
    text_file.write_text("not a photo at all")
    assert decode_problem(text_file) == "not a recognised image"
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), "red").save(buf, "PNG")
    png = tmp_path / "x.png"
    png.write_bytes(buf.getvalue())
    assert decode_problem(png) is None
    png.write_bytes(buf.getvalue()[:-30])
    assert decode_problem(png) is not None
    with pytest.raises(FileNotFoundError):
        decode_problem(tmp_path / "gone.jpg")
    # what the processor rejects anyway is not decoded here (no waiting, no memory spent)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    assert decode_problem(cut, max_bytes=len(data) // 4) is None
    assert decode_problem(cut, max_pixels=640 * 480 - 1) is None
    gif = tmp_path / "anim.gif"
    Image.new("P", (50, 50)).save(gif, "GIF")
    gif.write_bytes(gif.read_bytes()[:-10])
    assert decode_problem(gif) is None


# ---------------------------------------------------------------- names

def test_names_for_logs_and_new_file_names():
    assert for_log("inbox/a\nb\tc\x1b.jpg") == "inbox/a\\nb\\tc\\x1b.jpg"
    assert for_log("é\u202eg") == "é\\u202eg"
    assert text(os.fsdecode(b"caf\xe9.jpg")) == "caf\\xe9.jpg"   # issue 16: the byte shown escaped, not lost
    prefix = "w0123456789_"
    for name in ("é" * 200 + ".jpeg", "a" * 254, "x" * 240 + "." + "y" * 40, ".hidden", "a/b\nc.jpg",
                 os.fsdecode(b"\xff\xfe.jpg")):
        safe = safe_component(name, prefix=prefix, reserve=len(".reason.txt"))
        assert len((prefix + safe + ".reason.txt").encode()) <= NAME_MAX
        assert "/" not in safe and "\n" not in safe and not safe.startswith(".")
        safe.encode("utf-8")  # no surrogates
    assert safe_component("é" * 200 + ".jpeg", prefix=prefix, reserve=11).endswith(".jpeg")
    assert safe_component("IMG_1.jpg") == "IMG_1.jpg"


# ---------------------------------------------------------------- FIFO quarantine and its crash repair

def test_fifo_is_quarantined_without_being_opened_and_crash_windows_are_repaired(workspace):
    from pipeline.workspace import open_workspace
    from watch_folders.quarantine import finish_interrupted, quarantine_entry

    ws = open_workspace(workspace)
    try:
        fifo = workspace / "inbox" / "pipe.jpg"
        os.mkfifo(fifo)  # opening it for reading would block this test for ever
        rec = quarantine_entry(ws, fifo, reason="not a regular file", advice="drop photos", actor="test")
        assert rec["status"] == "rejected" and rec["source"] == "inbox/pipe.jpg"
        assert not os.path.lexists(fifo)
        row = ws.db.execute("SELECT * FROM jobs WHERE id=?", (rec["job_id"],)).fetchone()
        assert row["state"] == "done" and row["status"] == "rejected"
        moved = workspace / row["original_path"]
        assert moved.is_fifo() and moved.parent.name == "quarantine"
        assert "not a regular file" in moved.with_name(moved.name + ".reason.txt").read_text()

        # killed after the reason file, before the move: the reason file goes, the entry stays in the inbox
        orphan_reason = workspace / "quarantine" / "wabcdef0123_x.jpg.reason.txt"
        orphan_reason.write_text("Rejected: x\nOriginal: 'inbox/x.jpg'\n")
        # killed after the move, before the job row: the row is added from the reason file
        moved2 = workspace / "quarantine" / "w0123abcdef_pipe2.jpg"
        os.mkfifo(moved2)
        moved2.with_name(moved2.name + ".reason.txt").write_text(
            "Rejected: not a regular file\nOriginal: 'inbox/anna/pipe2.jpg'\n")
        # killed while writing a reason file
        (workspace / "quarantine" / ".w0123abcdef_pipe3.jpg.reason.txt.tmp-123").write_text("half")
        done = finish_interrupted(ws, actor="test")
        assert [r["source"] for r in done] == ["inbox/anna/pipe2.jpg"]
        assert not orphan_reason.exists()
        assert not (workspace / "quarantine" / ".w0123abcdef_pipe3.jpg.reason.txt.tmp-123").exists()
        assert ws.db.execute("SELECT count(*) FROM jobs WHERE original_path=?",
                             ("quarantine/w0123abcdef_pipe2.jpg",)).fetchone()[0] == 1
        assert finish_interrupted(ws, actor="test") == []  # idempotent
    finally:
        ws.close()


# ---------------------------------------------------------------- locks

def test_one_watcher_per_workspace(workspace):
    from pipeline.errors import UserError
    from watch_folders.locks import WatcherRunning, WatchLock

    first = WatchLock(workspace)
    first.acquire()
    try:
        with pytest.raises(WatcherRunning, match=f"process {os.getpid()}"):
            WatchLock(workspace).acquire()
        assert issubclass(WatcherRunning, UserError)
    finally:
        first.release()
    again = WatchLock(workspace)
    again.acquire()
    again.release()


def test_a_new_watcher_waits_for_orphaned_workers(workspace):
    from pipeline.errors import UserError
    from watch_folders.locks import wait_for_orphaned_workers
    from watch_folders.worker import WORKERS_LOCK

    holder = textwrap.dedent(f"""
        import fcntl, os, sys, time
        fd = os.open({str(workspace / WORKERS_LOCK)!r}, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_SH)
        print("held", flush=True)
        time.sleep(float(sys.argv[1]))
    """)
    proc = subprocess.Popen([sys.executable, "-c", holder, "30"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(UserError, match="still running"):
            wait_for_orphaned_workers(workspace, timeout=0.3)
    finally:
        proc.kill()
        proc.wait()
    proc = subprocess.Popen([sys.executable, "-c", holder, "0.5"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        told = []
        wait_for_orphaned_workers(workspace, timeout=30, on_wait=lambda: told.append(1))
        assert told == [1]                       # it said it was waiting, once
        assert proc.wait(timeout=5) == 0         # and returned only because the holder finished
    finally:
        proc.kill()
        proc.wait()


def test_temporary_files_of_dead_writers_are_removed_live_ones_kept(workspace):
    from watch_folders.leftovers import remove_stale_temp_files

    dead = workspace / "approved" / "website" / ".2026-01-01_abc.jpg.k2j3h4g5.tmp"
    fresh = workspace / "approved" / "social" / ".2026-01-01_abc.jpg.zz11yy22.tmp"
    held = workspace / "review" / ".7.jpg.aa11bb22.tmp"
    real = workspace / "approved" / "website" / "2026-01-01_abc.jpg"
    for p in (dead, fresh, held, real):
        p.write_bytes(b"x")
    for p in (dead, held, real):
        os.utime(p, (time.time() - 600, time.time() - 600))
    with open(held, "rb"):  # a writer still has it open (e.g. a paused process): never removed
        assert remove_stale_temp_files(workspace) == [dead]
    assert fresh.exists() and real.exists() and held.exists() and not dead.exists()
    assert remove_stale_temp_files(workspace) == [held]


def test_worker_reports_a_file_that_vanished(tmp_path):
    from watch_folders.worker import handle

    assert handle(str(tmp_path / "gone.jpg"), "inbox/gone.jpg", True) == {"kind": "vanished"}
