"""Originals are private, verified copies (issue 15): never sharing an inode with the input, never
changing the input's mode, and never processed, re-rendered or released when their bytes changed."""
from __future__ import annotations

import hashlib
import os

from pipeline import jobs
from pipeline.process import process_file, recover
from pipeline.workspace import init_workspace
from tests.watch_helpers import jpeg_bytes


def test_process_copies_and_never_touches_the_input(tmp_path):
    ws = init_workspace(tmp_path / "ws")
    src = tmp_path / "share" / "photo.jpg"
    src.parent.mkdir()
    src.write_bytes(jpeg_bytes(1))
    os.chmod(src, 0o644)
    before = src.stat()
    record = process_file(ws, src)
    kept = ws.root / jobs.get(ws.db, record["job_id"])["original_path"]
    after = src.stat()
    assert (after.st_ino, after.st_mode, after.st_mtime_ns, after.st_nlink) == (
        before.st_ino, before.st_mode, before.st_mtime_ns, before.st_nlink)
    assert kept.stat().st_ino != after.st_ino and oct(kept.stat().st_mode & 0o777) == oct(0o600)
    ws.close()


def test_inbox_hard_link_is_copied_then_only_the_link_removed(tmp_path):
    ws = init_workspace(tmp_path / "ws")
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(jpeg_bytes(2))
    os.chmod(outside, 0o640)
    os.link(outside, ws.root / "inbox" / "drop.jpg")
    record = process_file(ws, ws.root / "inbox" / "drop.jpg", move=True)
    kept = ws.root / jobs.get(ws.db, record["job_id"])["original_path"]
    assert not (ws.root / "inbox" / "drop.jpg").exists()
    assert outside.stat().st_nlink == 1 and oct(outside.stat().st_mode & 0o777) == oct(0o640)
    assert kept.stat().st_ino != outside.stat().st_ino
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == record["sha256"]
    ws.close()


def test_recover_refuses_an_original_that_changed_while_in_flight(tmp_path):
    ws = init_workspace(tmp_path / "ws")
    data = jpeg_bytes(3)
    sha = hashlib.sha256(data).hexdigest()
    job_id = jobs.create(ws.db, "inbox/a.jpg", sha, "test")
    original = ws.root / "originals" / f"{job_id}_{sha[:12]}.jpg"
    original.write_bytes(jpeg_bytes(4))  # not the bytes that were received
    jobs.mark_processing(ws.db, job_id, ws.rel(original))
    [record] = recover(ws)
    assert record["status"] == "rejected" and "changed" in record["reason"]
    row = jobs.get(ws.db, job_id)
    assert row["state"] == "done" and row["original_path"].startswith("quarantine/")
    assert not ws.db.execute("SELECT COUNT(*) FROM outputs WHERE job_id=?", (job_id,)).fetchone()[0]
    ws.close()
