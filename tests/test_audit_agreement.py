"""The audit agrees with the pipeline (issue 15): a face a reviewer confirmed is that person for the audit
too; findings are counted once per file, kind and subject whatever the channels; positions read as words."""
from __future__ import annotations

import json

import pytest

from pipeline.audit.agreement import position_words
from pipeline.audit.run import Summary
from tests.review_helpers import fresh_copy, invoke, job_id, query, template_workspace


@pytest.fixture
def ws(tmp_path_factory, tmp_path):
    return fresh_copy(template_workspace(tmp_path_factory), tmp_path)


def test_position_words():
    size = (900, 600)
    assert position_words((10, 100, 90, 20), size) == "top left"
    assert position_words((250, 480, 350, 420), size) == "centre"
    assert position_words((500, 890, 590, 800), size) == "bottom right"
    assert position_words((250, 100, 350, 20), size) == "left"
    assert position_words((10, 480, 90, 420), size) == "top"
    assert position_words((10, 100, 90, 20), None) is None


def test_a_face_confirmed_on_review_is_that_person_in_the_audit(ws, tmp_path):
    job = job_id(ws, "obama_and_biden.jpg")  # held: the third person is in no register
    item = next(i for i in json.loads(invoke(ws, "review", "list", "--json").stdout) if i["id"] == job)
    stranger = next(f for f in item["faces"] if f["needs_review"])
    invoke(ws, "review", "decide", job, "--face", stranger["face"], "--as", "kit_harington", "--release", expect=0)
    website = query(ws, "SELECT path FROM outputs WHERE job_id=? AND channel='website'", (job,))[0]["path"]
    out = tmp_path / "audit.json"
    r = invoke(ws, "audit", ws / website, "--channel", "website", "--format", "json", "--output", out, expect=None)
    assert "Traceback" not in r.output
    record = json.loads(out.read_text().splitlines()[0])
    faces = {f["person"]: f for f in record["faces"]}
    assert faces["kit_harington"]["confirmed_on_review"] is True and faces["kit_harington"]["findings"] == {}
    assert not [f for f in record["findings"] if f["kind"] == "face_unknown"]
    assert all(f.get("position") for f in record["faces"])


def test_findings_are_counted_once_per_file_kind_and_subject(ws, tmp_path):
    photo = ws / query(ws, "SELECT original_path FROM jobs WHERE source LIKE '%two_people.jpg'")[0]["original_path"]
    out = tmp_path / "audit.json"
    invoke(ws, "audit", photo, "--format", "json", "--output", out, expect=1)
    r = invoke(ws, "audit", photo, expect=1)
    assert "face 2 (" in r.output or "face 1 (" in r.output
    record = json.loads(out.read_text().splitlines()[0])
    per_channel = [f for f in record["findings"] if f["kind"] == "face_refused"]
    assert len(per_channel) == 2  # biden refused on social and press: one face, two channels
    summary = Summary(["website", "social", "newsletter", "press"])
    summary.add(record)
    assert summary.findings_by_kind["face_refused"] == 1 and summary.files_by_kind["face_refused"] == 1
