"""`pipeline pull`: released images of one channel with their captions, handed once per version,
recorded; refusals in plain words; a consent withdrawal's re-render is handed again, a retraction never."""
from __future__ import annotations

import getpass
import hashlib
import shutil
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, fixtures_dir, json_lines
from tests.watch_helpers import jpeg_bytes, make_workspace, write

REGISTER_HEADER = "person_id,given_name,family_name,group,role,website,social,newsletter,press,expires,never_publish,biometric"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def db(root: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(root / "pipeline.db")
    conn.row_factory = sqlite3.Row
    return conn


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """A workspace where obama (website: yes, social: no) and two plain photos were released by the watcher."""
    from click.testing import CliRunner

    from pipeline.cli import main

    events = fixtures_dir("faces", "events")
    enrol = fixtures_dir("faces", "enrol")
    base = tmp_path_factory.mktemp("pull")
    root = make_workspace(base / "ws", stable=0.1, workers=1)
    (base / "register.csv").write_text(f"{REGISTER_HEADER}\nobama,Barack,Obama,Y6,pupil,yes,no,yes,no,,no,yes\n")
    runner = CliRunner()
    r = runner.invoke(main, ["--workspace", str(root), "consent", "import", str(base / "register.csv")])
    assert r.exit_code == 0, r.output
    (base / "enrol" / "obama").mkdir(parents=True)
    for f in (enrol / "obama").iterdir():
        shutil.copyfile(f, base / "enrol" / "obama" / f.name)
    r = runner.invoke(main, ["--workspace", str(root), "consent", "enrol", str(base / "enrol")])
    assert r.exit_code == 0, r.output
    shutil.copyfile(events / "obama1.jpg", root / "inbox" / "obama1.jpg")
    (root / "inbox" / "obama1.txt").write_text("Barack Obama opens the school fair")
    write(root / "inbox" / "plain1.jpg", jpeg_bytes(1))
    write(root / "inbox" / "plain2.jpg", jpeg_bytes(2))
    r = runner.invoke(main, ["--workspace", str(root), "watch", "--once"])
    assert r.exit_code == 0, r.output
    conn = db(root)
    statuses = [row[0] for row in conn.execute("SELECT status FROM jobs")]
    conn.close()
    assert statuses == ["released"] * 3
    return root


@pytest.fixture
def ws(released, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(released, root)
    return root


def test_pull_hands_each_image_once_with_its_caption(ws, tmp_path, cli):
    dest = tmp_path / "comms" / "website"
    r = cli("pull", "--channel", "website", "--to", dest, workspace=ws, expect=0)
    assert "Pulled 3 images for website" in r.output
    approved = sorted((ws / "approved" / "website").glob("*.jpg"))
    assert sorted(p.name for p in dest.glob("*.jpg")) == [p.name for p in approved]
    for src in approved:
        assert sha(dest / src.name) == sha(src)
    captions = list(dest.glob("*.txt"))
    assert len(captions) == 1
    text = captions[0].read_text()
    assert "school fair" in text and "Obama" not in text  # the released caption, full name scrubbed
    assert not [p for p in dest.iterdir() if p.name.startswith(".")]  # no temporary files left
    conn = db(ws)
    pulls = conn.execute("SELECT * FROM pulls ORDER BY id").fetchall()
    assert len(pulls) == 3
    assert {p["actor"] for p in pulls} == {getpass.getuser()}
    assert {p["channel"] for p in pulls} == {"website"}
    assert {Path(p["dest"]).name for p in pulls} == {p.name for p in approved}
    live = {o["id"]: o["sha256"] for o in conn.execute("SELECT id, sha256 FROM outputs WHERE channel='website'")}
    assert {p["output_id"]: p["output_sha256"] for p in pulls} == live
    assert conn.execute("SELECT count(*) FROM events WHERE kind='pull'").fetchone()[0] == 1
    conn.close()

    r = cli("pull", "--channel", "website", "--to", dest, workspace=ws, expect=0)
    assert "Nothing new to pull for website" in r.output and "3 images pulled before" in r.output
    (dest / approved[0].name).unlink()
    r = cli("pull", "--channel", "website", "--to", dest, "--again", "--json", workspace=ws, expect=0)
    out = json_lines(r.output)[0]
    assert len(out["pulled"]) == 3 and out["already_pulled"] == 0 and out["skipped"] == []
    assert (dest / approved[0].name).exists()
    conn = db(ws)
    assert conn.execute("SELECT count(*) FROM pulls").fetchone()[0] == 6
    conn.close()
    # another channel is handed separately
    r = cli("pull", "--channel", "social", "--to", tmp_path / "comms" / "social", "--json", workspace=ws, expect=0)
    assert len(json_lines(r.output)[0]["pulled"]) == 3


def test_since_filters_by_release_date(ws, tmp_path, cli):
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    r = cli("pull", "--channel", "website", "--to", tmp_path / "a", "--since", tomorrow, "--json", workspace=ws, expect=0)
    assert json_lines(r.output)[0]["pulled"] == []
    r = cli("pull", "--channel", "website", "--to", tmp_path / "b", "--since", "2000-01-01", "--json", workspace=ws,
            expect=0)
    assert len(json_lines(r.output)[0]["pulled"]) == 3
    r = cli("pull", "--channel", "website", "--to", tmp_path / "c", "--since", "last tuesday", workspace=ws, expect=2)
    assert "is not a date" in r.output and "2026-09-01" in r.output


def test_refusals_are_plain(ws, tmp_path, cli):
    r = cli("pull", "--channel", "tiktok", "--to", tmp_path / "x", workspace=ws, expect=2)
    assert "unknown channel 'tiktok'" in r.output and "website" in r.output
    r = cli("pull", "--channel", "website", "--to", ws / "inbox" / "comms", workspace=ws, expect=2)
    assert "inside the workspace's inbox/" in r.output
    afile = write(tmp_path / "file", b"x")
    r = cli("pull", "--channel", "website", "--to", afile, workspace=ws, expect=2)
    assert "is a file" in r.output and "Traceback" not in r.output
    conn = db(ws)
    assert conn.execute("SELECT count(*) FROM pulls").fetchone()[0] == 0
    conn.close()


def test_a_changed_released_file_is_not_handed(ws, tmp_path, cli):
    victim = sorted((ws / "approved" / "website").glob("*.jpg"))[0]
    victim.write_bytes(victim.read_bytes()[:-100])
    dest = tmp_path / "out"
    r = cli("pull", "--channel", "website", "--to", dest, workspace=ws, expect=1)
    assert "not the one the pipeline wrote" in r.output
    assert not (dest / victim.name).exists()
    assert len(list(dest.glob("*.jpg"))) == 2


def test_withdrawal_rerender_is_handed_again_retraction_never(ws, tmp_path, cli):
    dest = tmp_path / "out"
    cli("pull", "--channel", "website", "--to", dest, workspace=ws, expect=0)
    conn = db(ws)
    obama_job = conn.execute("SELECT id FROM jobs WHERE source='inbox/obama1.jpg'").fetchone()[0]
    out = conn.execute("SELECT path, sha256 FROM outputs WHERE job_id=? AND channel='website'", (obama_job,)).fetchone()
    conn.close()
    name = Path(out["path"]).name
    before = sha(dest / name)
    cli("consent", "set", "obama", "--channel", "website", "--status", "withdrawn", "--reason", "letter from parent",
        workspace=ws, expect=0)
    r = cli("pull", "--channel", "website", "--to", dest, "--json", workspace=ws, expect=0)
    result = json_lines(r.output)[0]
    assert [p["job_id"] for p in result["pulled"]] == [obama_job] and result["already_pulled"] == 2
    assert sha(dest / name) != before and sha(dest / name) == sha(ws / out["path"])
    # never-publish: the released image is retracted, and a retracted image is never handed
    (tmp_path / "np.csv").write_text(f"{REGISTER_HEADER}\nobama,Barack,Obama,Y6,pupil,no,no,yes,no,,yes,yes\n")
    cli("consent", "import", tmp_path / "np.csv", workspace=ws, expect=0)
    conn = db(ws)
    states = {row[0] for row in conn.execute("SELECT state FROM outputs WHERE job_id=?", (obama_job,))}
    conn.close()
    assert states == {"retracted"}
    r = cli("pull", "--channel", "newsletter", "--to", tmp_path / "news", "--again", "--json", workspace=ws, expect=0)
    handed = {p["job_id"] for p in json_lines(r.output)[0]["pulled"]}
    assert obama_job not in handed and len(handed) == 2
