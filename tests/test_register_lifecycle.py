"""Register lifecycle (issue 15): every channel at once, never-publish and biometric from the command
line, dates that say what is wrong, warnings for consent without a reference photo and past expiries."""
from __future__ import annotations

import json

import pytest

from consent.lifecycle import explain_date
from tests.register_helpers import HEADER, ROWS, write_csv


@pytest.fixture
def loaded(workspace, tmp_path, cli):
    rows = [*ROWS, "P005,Old,Date,Y1,pupil,yes,yes,no,no,2020-07-31,no,yes"]
    cli("consent", "import", write_csv(tmp_path / "register.csv", [HEADER, *rows]), workspace=workspace, expect=0)
    return workspace


@pytest.mark.parametrize("text, message", [
    ("2027-02-30", "30 February 2027 does not exist"),
    ("2027-02-29", "29 February 2027 does not exist (2027 is not a leap year)"),
    ("2027-13-01", "there is no month 13"),
    ("2027-04-31", "31 April 2027 does not exist"),
    ("31/08/2027", "looks like day/month/year"),
    ("2027-8-31", "two digits for the month and the day"),
    ("soon", "not a date written as YYYY-MM-DD"),
])
def test_date_messages_say_what_is_wrong(text, message):
    assert message in explain_date(text)


def test_good_dates_pass():
    assert explain_date("2028-02-29") is None and explain_date("2027-08-31") is None


def test_import_and_cli_name_the_impossible_date(loaded, tmp_path, cli):
    bad = write_csv(tmp_path / "bad.csv", [HEADER, ROWS[0].replace("2027-08-31", "2027-02-30")])
    r = cli("consent", "import", bad, workspace=loaded, expect=2)
    assert "row 2, column expires: '2027-02-30': 30 February 2027 does not exist" in r.output
    r = cli("consent", "set", "P001", "--channel", "website", "--status", "granted", "--expires", "2027-02-30",
            workspace=loaded, expect=2)
    assert "30 February 2027 does not exist" in r.output and "Traceback" not in r.output


def test_import_warns_about_past_expiry_and_missing_reference_photos(workspace, tmp_path, cli):
    rows = [*ROWS, "P005,Old,Date,Y1,pupil,yes,yes,no,no,2020-07-31,no,yes", "P006,No,Bio,Y1,pupil,yes,no,no,no,,no,no"]
    r = cli("consent", "import", write_csv(tmp_path / "r.csv", [HEADER, *rows]), workspace=workspace, expect=0)
    assert "WARNING: P005: consent expired after 2020-07-31" in r.output
    assert "WARNING: P001 has consent on website, newsletter but no reference photo" in r.output
    assert "WARNING: P006 has consent on website but no biometric consent" in r.output
    out = json.loads(cli("consent", "import", write_csv(tmp_path / "r.csv", [HEADER, *rows]), "--json",
                         workspace=workspace, expect=0).stdout)
    assert out["warnings"] == []  # nothing changed: nothing to warn about again
    listed = {p["person_id"]: p for p in json.loads(cli("consent", "list", "--json", workspace=workspace).stdout)}
    assert {w["kind"] for w in listed["P005"]["warnings"]} == {"expired", "no_reference_photo"}
    # refused everywhere: no photo needed for consent, but never-publish without a photo cannot be enforced
    assert [w["kind"] for w in listed["P003"]["warnings"]] == ["never_publish_unrecognised"]
    table = cli("consent", "list", workspace=workspace, expect=0).output
    assert "WARNING: P005: consent expired after 2020-07-31" in table


def test_channel_all_and_never_publish_from_the_command_line(loaded, cli):
    r = cli("consent", "set", "P002", "--channel", "all", "--status", "withdrawn", "--reason", "parent: no to everything",
            "--json", workspace=loaded, expect=0)
    person = json.loads(r.stdout)
    assert {c["effective"] for c in person["consents"].values()} == {"withdrawn"}
    show = json.loads(cli("consent", "show", "P002", "--json", workspace=loaded).stdout)
    assert sum(1 for h in show["history"] if h["reason"] == "parent: no to everything") == 4
    r = cli("consent", "set", "P002", "--never-publish", "yes", "--reason", "court order", workspace=loaded, expect=0)
    assert "never publish is YES" in r.output
    show = json.loads(cli("consent", "show", "P002", "--json", workspace=loaded).stdout)
    assert show["never_publish"] is True
    assert any(h["field"] == "never_publish" and h["new"] == "yes" and h["reason"] == "court order"
               for h in show["history"])
    cli("consent", "set", "P002", "--never-publish", "no", "--reason", "order lifted", workspace=loaded, expect=0)
    assert json.loads(cli("consent", "show", "P002", "--json", workspace=loaded).stdout)["never_publish"] is False
    r = cli("consent", "set", "P002", "--channel", "all", workspace=loaded, expect=2)
    assert "--channel and --status go together" in r.output
    r = cli("consent", "set", "P002", workspace=loaded, expect=2)
    assert "Say what to change" in r.output
