"""`pipeline consent …` through the real command line (in-process with click, and as a subprocess)."""
from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
from datetime import date

import pytest

from consent.register import load_people
from pipeline.cli.common import actor_name
from pipeline.workspace import open_workspace
from tests.conftest import PIPELINE, fixtures_dir, run_pipeline
from tests.register_helpers import HEADER, ROWS, dump, write_csv

CHANNELS = ["website", "social", "newsletter", "press"]


@pytest.fixture
def register_csv(tmp_path):
    return write_csv(tmp_path / "register.csv", [HEADER, *ROWS, "P005,Old,Form,Y6,pupil,yes,yes,no,no,2020-07-31,no"])


@pytest.fixture
def loaded(workspace, register_csv, cli):
    cli("consent", "import", register_csv, workspace=workspace, expect=0)
    return workspace


def _dump(workspace):
    ws = open_workspace(workspace)
    try:
        return dump(ws.db)
    finally:
        ws.close()


def test_import_prints_a_summary(workspace, register_csv, cli, tmp_path):
    r = cli("consent", "import", register_csv, workspace=workspace, expect=0)
    assert "Imported register.csv: 5 added, 0 updated, 0 unchanged." in r.stdout
    spring = write_csv(tmp_path / "spring.csv", [HEADER, ROWS[0].replace(",no,yes,no,", ",yes,yes,no,"), ROWS[1]])
    r = cli("consent", "import", spring, workspace=workspace, expect=0)
    assert "0 added, 1 updated, 1 unchanged" in r.stdout
    assert "3 people in the register are not in this file; they were left unchanged." in r.stdout


def test_import_json(workspace, register_csv, cli):
    r = cli("consent", "import", register_csv, "--json", workspace=workspace, expect=0)
    out = json.loads(r.stdout)
    assert (out["added"], out["updated"], out["unchanged"], out["not_in_file"]) == (5, 0, 0, 0)


def test_bad_import_is_a_plain_error_and_changes_nothing(loaded, cli, tmp_path):
    before = _dump(loaded)
    bad = write_csv(tmp_path / "bad.csv", [HEADER, ROWS[0].replace("Hart", "Hartley"),
                                           "P009,Ann,Lee,Y1,pupil,yes,maybe,no,no,,no"])
    r = cli("consent", "import", bad, workspace=loaded, expect=2)
    assert r.stderr.startswith("Error: bad.csv was not imported; nothing in the register changed.")
    assert "row 3, column social: 'maybe' is not yes or no" in r.stderr
    assert "Traceback" not in r.output
    assert _dump(loaded) == before


def test_list_json_shape_and_effective_status(loaded, cli):
    r = cli("consent", "list", "--json", workspace=loaded, expect=0)
    people = {p["person_id"]: p for p in json.loads(r.stdout)}
    assert sorted(people) == ["P001", "P002", "P003", "P004", "P005"]
    amelia = people["P001"]
    assert set(amelia) == {"person_id", "given_name", "family_name", "group", "role", "expires", "never_publish",
                           "forgotten", "consents", "reference_photos", "biometric", "recognised", "warnings"}
    assert amelia.pop("biometric") is True and amelia.pop("recognised") is False
    assert [w["kind"] for w in amelia.pop("warnings")] == ["no_reference_photo"]
    assert amelia == {
        "person_id": "P001", "given_name": "Amelia", "family_name": "Hart", "group": "Y4", "role": "pupil",
        "expires": "2027-08-31", "never_publish": False, "forgotten": False, "reference_photos": 0,
        "consents": {
            "website": {"status": "granted", "expires": None, "effective": "granted" if date.today() <= date(2027, 8, 31) else "expired"},
            "social": {"status": "refused", "expires": None, "effective": "refused"},
            "newsletter": {"status": "granted", "expires": None, "effective": "granted" if date.today() <= date(2027, 8, 31) else "expired"},
            "press": {"status": "refused", "expires": None, "effective": "refused"},
        },
    }
    assert people["P002"]["given_name"] == "Zoë" and people["P003"]["never_publish"] is True
    assert people["P005"]["consents"]["website"] == {"status": "granted", "expires": None, "effective": "expired"}


def test_list_table(loaded, cli):
    r = cli("consent", "list", workspace=loaded, expect=0)
    lines = r.stdout.splitlines()
    p3 = next(line for line in lines if "P003" in line)
    assert "Siobhán Ó Briain" in p3 and "YES" in p3 and "refused" in p3
    p5 = next(line for line in lines if "P005" in line)
    assert "expired" in p5


def test_list_empty_register(workspace, cli):
    r = cli("consent", "list", workspace=workspace, expect=0)
    assert "The register is empty" in r.stdout
    assert json.loads(cli("consent", "list", "--json", workspace=workspace, expect=0).stdout) == []


def test_set_then_show_history(loaded, cli):
    r = cli("consent", "set", "P002", "--channel", "press", "--status", "withdrawn", "--expires", "2026-12-31",
            "--reason", "email from parent", workspace=loaded, expect=0)
    assert "P002 on press: withdrawn until 2026-12-31 (now counts as withdrawn)." in r.stdout
    r = cli("consent", "show", "P002", "--json", workspace=loaded, expect=0)
    shown = json.loads(r.stdout)
    assert shown["consents"]["press"] == {"status": "withdrawn", "expires": "2026-12-31", "effective": "withdrawn"}
    last = shown["history"][-2:]
    assert [(h["channel"], h["field"], h["old"], h["new"], h["reason"], h["actor"]) for h in last] == [
        ("press", "status", "granted", "withdrawn", "email from parent", actor_name()),
        ("press", "expires", None, "2026-12-31", "email from parent", actor_name())]
    cli("consent", "set", "P002", "--channel", "press", "--status", "granted", "--expires", "none",
        workspace=loaded, expect=0)
    text = cli("consent", "show", "P002", workspace=loaded, expect=0).stdout
    assert "P002: Zoë Brontë" in text and "email from parent" in text
    assert "set with 'pipeline consent set'" in text   # default reason
    ev = open_workspace(loaded).db.execute(
        "SELECT actor, kind FROM events WHERE person_id='P002' ORDER BY id DESC LIMIT 1").fetchone()
    assert tuple(ev) == (actor_name(), "consent.set")


@pytest.mark.parametrize("args, message", [
    (["P999", "--channel", "website", "--status", "granted"], "There is no person 'P999'"),
    (["P001", "--channel", "tiktok", "--status", "granted"], "'tiktok' is not a configured channel"),
    (["P001", "--channel", "website", "--status", "granted", "--expires", "31/12/2026"], "YYYY-MM-DD"),
])
def test_set_errors_are_plain_and_change_nothing(loaded, cli, args, message):
    before = _dump(loaded)
    r = cli("consent", "set", *args, workspace=loaded, expect=2)
    assert r.stderr.startswith("Error: ") and message in r.stderr and "Traceback" not in r.output
    assert _dump(loaded) == before


def test_set_status_must_be_one_of_three(loaded, cli):
    r = cli("consent", "set", "P001", "--channel", "website", "--status", "yes", workspace=loaded, expect=2)
    assert "granted" in r.output and "withdrawn" in r.output


def test_forget_with_yes(loaded, cli):
    r = cli("consent", "forget", "P002", "--yes", workspace=loaded, expect=0)
    assert "P002 forgotten" in r.stdout and "Zoë" not in r.stdout
    people = {p["person_id"]: p for p in json.loads(cli("consent", "list", "--json", workspace=loaded).stdout)}
    assert people["P002"]["forgotten"] is True and people["P002"]["given_name"] is None
    assert all(c["effective"] == "withdrawn" for c in people["P002"]["consents"].values())
    assert "already forgotten" in cli("consent", "forget", "P002", "--yes", workspace=loaded, expect=0).stdout


def test_forget_without_yes_and_no_keyboard_refuses(loaded, cli):
    before = _dump(loaded)
    r = cli("consent", "forget", "P002", workspace=loaded, input="y\n", expect=2)
    assert "add --yes" in r.stderr
    assert _dump(loaded) == before


def _run_on_a_terminal(args, answer: bytes):
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([*PIPELINE, *map(str, args)], stdin=slave, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        os.write(master, answer)
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(slave)
        os.close(master)
    return proc.returncode, out, err


def test_forget_asks_on_a_terminal(loaded):
    code, out, err = _run_on_a_terminal(["--workspace", loaded, "consent", "forget", "P001"], b"n\n")
    assert code == 1 and "Forget P001 (Amelia Hart)?" in out and "Aborted" in err
    ws = open_workspace(loaded)
    assert load_people(ws.db)["P001"].given_name == "Amelia"
    code, out, err = _run_on_a_terminal(["--workspace", loaded, "consent", "forget", "P001"], b"y\n")
    assert code == 0 and "P001 forgotten" in out
    assert load_people(ws.db)["P001"].forgotten
    ws.close()


def test_enrol_exit_codes(loaded, cli, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(fixtures_dir("faces", "enrol") / "kit_harington" / "john2.jpeg", photos / "P001.jpg")
    r = cli("consent", "enrol", photos, workspace=loaded, expect=0)
    assert "Enrolled 1 photo of 1 person." in r.stdout
    (photos / "P777.jpg").write_bytes(b"")
    r = cli("consent", "enrol", photos, "--json", workspace=loaded, expect=1)
    out = json.loads(r.stdout)
    assert out["already_enrolled"] == [{"file": "P001.jpg", "person_id": "P001"}]
    assert [x["file"] for x in out["refused"]] == ["P777.jpg"]
    r = cli("consent", "enrol", photos, workspace=loaded, expect=1)
    assert "Refused 1 file" in r.stdout and "P777.jpg: the file name does not start with a person_id" in r.stdout
    listed = {p["person_id"]: p for p in json.loads(cli("consent", "list", "--json", workspace=loaded).stdout)}
    assert listed["P001"]["reference_photos"] == 1


def test_command_level_workspace_option(loaded, cli):
    from click.testing import CliRunner

    from pipeline.cli import main

    r = CliRunner().invoke(main, ["consent", "list", "--json", "--workspace", str(loaded)], catch_exceptions=False)
    assert r.exit_code == 0 and len(json.loads(r.stdout)) == 5


def test_subprocess_missing_register_file_is_a_plain_error(loaded, tmp_path):
    r = run_pipeline("--workspace", loaded, "consent", "import", tmp_path / "nope.csv")
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("Error: ") and "does not exist" in r.stderr and "Traceback" not in r.stderr
