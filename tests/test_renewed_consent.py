"""Renewed consent (issue 15): photos redacted only because of a person's earlier refusal become
"consent renewed" items of the review queue, never released automatically; a person decides, and the
released photo is re-rendered showing that person only (an independent recogniser checks both ways)."""
from __future__ import annotations

import json

import pytest

from tests.review_helpers import Recogniser, fresh_copy, invoke, job_id, query, template_workspace


@pytest.fixture
def ws(tmp_path_factory, tmp_path):
    return fresh_copy(template_workspace(tmp_path_factory), tmp_path)


def _outputs(ws, job: int) -> dict[str, str]:
    return {r["channel"]: r["path"] for r in query(ws, "SELECT channel, path FROM outputs WHERE job_id=? AND "
                                                       "state='live'", (job,))}


def test_renewed_consent_waits_for_a_person_then_shows_only_that_person(ws):
    job = job_id(ws, "two_people.jpg")  # obama (every channel) and biden (refused on social and press)
    outs = _outputs(ws, job)
    social = ws / outs["social"]
    before = social.read_bytes()
    rec = Recogniser()
    assert not rec.shows(social, "biden") and rec.shows(social, "obama")

    r = invoke(ws, "consent", "set", "biden", "--channel", "social", "--status", "granted", "--reason", "new form")
    assert "Traceback" not in r.output
    assert social.read_bytes() == before  # never released automatically
    items = [i for i in json.loads(invoke(ws, "review", "list", "--json").stdout) if i.get("kind") == "consent renewed"]
    assert [i["id"] for i in items] == [job] and "biden on social" in items[0]["reason"]
    assert "consent renewed" in invoke(ws, "review", "list").output

    r = invoke(ws, "review", "decide", job, "--release", "--by", "dsl", expect=0)
    assert rec.shows(social, "biden") and rec.shows(social, "obama")
    assert not rec.shows(ws / outs["press"], "biden")  # still refused on press: still redacted there
    change = query(ws, "SELECT * FROM output_changes WHERE job_id=? ORDER BY id DESC", (job,))[0]
    assert (change["channel"], change["action"], change["cause"], change["actor"]) == (
        "social", "rerendered", "consent renewed", "dsl")
    assert not [i for i in json.loads(invoke(ws, "review", "list", "--json").stdout) if i.get("kind")]


def test_dismissed_renewal_leaves_the_photo_as_released(ws):
    job = job_id(ws, "two_people.jpg")
    social = ws / _outputs(ws, job)["social"]
    before = social.read_bytes()
    invoke(ws, "consent", "set", "biden", "--channel", "all", "--status", "granted", "--reason", "new form")
    r = invoke(ws, "review", "decide", job, "--block", expect=0)
    assert "left as released" in r.output
    assert social.read_bytes() == before
    assert query(ws, "SELECT decision FROM renewals WHERE job_id=?", (job,)) == [{"decision": "dismissed"}]
    assert not [i for i in json.loads(invoke(ws, "review", "list", "--json").stdout) if i.get("kind")]


def test_renewal_overtaken_by_a_new_withdrawal_shows_nobody(ws):
    job = job_id(ws, "two_people.jpg")
    social = ws / _outputs(ws, job)["social"]
    before = social.read_bytes()
    invoke(ws, "consent", "set", "biden", "--channel", "social", "--status", "granted", "--reason", "new form")
    invoke(ws, "consent", "set", "biden", "--channel", "social", "--status", "withdrawn", "--reason", "changed mind")
    r = invoke(ws, "review", "decide", job, "--release", expect=2)
    assert "left as it is" in r.output and "Traceback" not in r.output
    assert social.read_bytes() == before
