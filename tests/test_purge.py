"""Originals are kept for [originals] retention_days, then purged (`pipeline purge`, or by the watcher),
recorded in events; originals of photos held for review are kept; released images are never touched."""
from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.conftest import fixtures_dir, json_lines
from tests.watch_helpers import jpeg_bytes, make_workspace, write


def rows(root: Path, sql: str, args=()):
    conn = sqlite3.connect(root / "pipeline.db")
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def set_retention(root: Path, days: int) -> None:
    cfg = root / "pipeline.toml"
    cfg.write_text(cfg.read_text().replace("retention_days = 30", f"retention_days = {days}"))


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    """Released (one with a caption), a duplicate, a rejected input, and a photo held for review."""
    from click.testing import CliRunner

    from pipeline.cli import main

    events = fixtures_dir("faces", "events")
    root = make_workspace(tmp_path_factory.mktemp("purge") / "ws", stable=0.1, workers=1,
                          extra={"faces": {"unknown": '"review"'}})  # an unknown face -> held for review
    write(root / "inbox" / "a.jpg", jpeg_bytes(1))
    write(root / "inbox" / "a.txt", b"Sports day")
    write(root / "inbox" / "b.jpg", jpeg_bytes(2))
    write(root / "inbox" / "sub" / "b copy.jpg", jpeg_bytes(2))
    write(root / "inbox" / "broken.jpg", b"")
    shutil.copyfile(events / "obama1.jpg", root / "inbox" / "obama1.jpg")
    r = CliRunner().invoke(main, ["--workspace", str(root), "watch", "--once"])
    assert r.exit_code == 1, r.output  # broken.jpg was rejected
    by = {row["source"]: row["status"] for row in rows(root, "SELECT source, status FROM jobs")}
    assert by == {"inbox/a.jpg": "released", "inbox/b.jpg": "released", "inbox/sub/b copy.jpg": "released",
                  "inbox/broken.jpg": "rejected", "inbox/obama1.jpg": "review"}, by
    return root


@pytest.fixture
def ws(processed, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(processed, root)
    return root


def private_files(root: Path) -> set[str]:
    return {f"{d}/{p.name}" for d in ("originals", "quarantine") for p in (root / d).iterdir()}


def test_purge_after_the_retention_period_keeps_review_originals(ws):
    from pipeline.delivery.purge import purge_originals
    from pipeline.workspace import open_workspace

    approved_before = sorted(p.name for p in (ws / "approved").rglob("*"))
    everything = private_files(ws)
    review_job = rows(ws, "SELECT id, original_path FROM jobs WHERE status='review'")[0]
    ws_ = open_workspace(ws)
    try:
        now = datetime.now(timezone.utc)
        early = purge_originals(ws_, now=now + timedelta(days=29), actor="test")
        assert early["purged"] == [] and private_files(ws) == everything
        result = purge_originals(ws_, now=now + timedelta(days=31), actor="test")
    finally:
        ws_.close()
    assert result["retention_days"] == 30 and result["errors"] == []
    left = private_files(ws)
    assert left == {review_job["original_path"]}, left  # only the photo awaiting a decision
    purged_jobs = {p["job_id"] for p in result["purged"]}
    assert len(purged_jobs) == 4
    removed = {f for p in result["purged"] for f in p["files"]}
    assert removed == everything - left
    assert any(f.endswith(".caption.txt") for f in removed) and any(f.endswith(".reason.txt") for f in removed)
    # recorded, one event per job
    events = rows(ws, "SELECT * FROM events WHERE kind='originals.purge'")
    assert {json.loads(e["detail"])["job_id"] for e in events} == purged_jobs
    assert {e["actor"] for e in events} == {"test"}
    # released images untouched
    assert sorted(p.name for p in (ws / "approved").rglob("*")) == approved_before
    # nothing more to do the second time
    ws_ = open_workspace(ws)
    try:
        assert purge_originals(ws_, now=now + timedelta(days=32))["purged"] == []
    finally:
        ws_.close()


def test_purge_command_dry_run_then_for_real(ws, cli):
    set_retention(ws, 0)
    before = private_files(ws)
    r = cli("purge", "--dry-run", "--json", workspace=ws, expect=0)
    planned = json_lines(r.output)[0]
    assert planned["dry_run"] and len(planned["purged"]) == 4
    assert private_files(ws) == before
    r = cli("purge", workspace=ws, expect=0)
    assert "Removed the originals of 4 jobs" in r.output
    assert len(private_files(ws)) == 1
    assert len(rows(ws, "SELECT * FROM events WHERE kind='originals.purge'")) == 4


def test_watch_purges_old_originals_when_it_starts(ws, cli):
    set_retention(ws, 0)
    r = cli("watch", "--once", workspace=ws, expect=0)
    assert "purged the originals of 4 job(s) older than 0 days" in r.output
    assert len(private_files(ws)) == 1


def test_negative_retention_is_refused_plainly(ws, cli):
    set_retention(ws, -1)
    r = cli("purge", workspace=ws)
    assert r.exit_code == 2
    assert "retention_days must be 0 or more" in r.output and "Traceback" not in r.output
