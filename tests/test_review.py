"""The review queue through the real CLI, on real fixture photos: list, decide (identify, release, block)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from tests.conftest import fixtures_dir, json_lines
from tests.review_helpers import (CHANNELS, Recogniser, fresh_copy, invoke, job_id, query, record, set_config,
                                  template_workspace)


@pytest.fixture
def ws(tmp_path_factory, tmp_path):
    return fresh_copy(template_workspace(tmp_path_factory), tmp_path)


def held(root):
    return json.loads(invoke(root, "review", "list", "--json").stdout)


def unknown_face(item):
    [face] = [f for f in item["faces"] if f["needs_review"]]
    return face


# ---------------------------------------------------------------- [faces] unknown = "review"

def test_unknown_review_holds_exactly_the_photo_with_a_stranger(ws):
    items = held(ws)
    assert len(items) == 1
    item = items[0]
    assert item["id"] == job_id(ws, "obama_and_biden.jpg")
    assert item["source"].endswith("obama_and_biden.jpg")
    assert "unknown" in item["reason"]
    assert (ws / item["preview"]).is_file()
    by_person = {f["person"]: f for f in item["faces"] if f["person"]}
    assert set(by_person) == {"obama", "biden"}
    assert by_person["obama"]["candidates"][0]["person"] == "obama"
    assert 0 < by_person["obama"]["candidates"][0]["distance"] < 0.5
    stranger = unknown_face(item)
    assert stranger["match"] == "unknown" and stranger["candidates"] == []
    assert set(stranger["decisions"].values()) == {"review"}
    # the other three photos were released (nothing about them waits for review)
    statuses = {r["source"].rsplit("/", 1)[-1]: r["status"] for r in query(ws, "SELECT source, status FROM jobs")}
    assert statuses == {"obama_and_biden.jpg": "review", "two_people.jpg": "released", "obama1.jpg": "released",
                        "johnsnow_test1.jpg": "released"}


def test_unknown_blur_releases_the_same_photo(ws, tmp_path):
    """The default (unknown = "blur") releases the photo the review setting holds: the setting is what holds it."""
    set_config(ws, "faces", "unknown", '"blur"')
    photo = tmp_path / "same_photo_as_png.png"   # same pixels, different file (not a duplicate)
    Image.open(fixtures_dir("faces", "events") / "obama_and_biden.jpg").save(photo)
    [rec] = json_lines(invoke(ws, "process", photo, "--json").stdout)
    assert rec["status"] == "released"
    assert [f["match"] for f in rec["faces"]].count("unknown") == 1
    assert [i["source"] for i in held(ws)] == [held(ws)[0]["source"]] and "obama_and_biden" in held(ws)[0]["source"]


def test_list_human_output_names_candidates(ws):
    out = invoke(ws, "review", "list").stdout
    assert "1 image waiting for review" in out
    assert "obama (Barack Obama)" in out and "NEEDS A DECISION" in out


def test_empty_queue(tmp_path, cli):
    cli("init", tmp_path / "ws", expect=0)
    assert "Nothing is waiting" in cli("review", "list", workspace=tmp_path / "ws", expect=0).stdout
    assert json.loads(cli("review", "list", "--json", workspace=tmp_path / "ws", expect=0).stdout) == []


# ---------------------------------------------------------------- decide: identify, release, block

def test_identify_records_and_redecides_but_does_not_release(ws):
    item = held(ws)[0]
    n = unknown_face(item)["face"]
    # A reviewer says the stranger is biden (granted on website and newsletter, refused elsewhere).
    out = invoke(ws, "review", "decide", item["id"], "--face", n, "--as", "biden", "--by", "Mrs Patel").stdout
    assert "still held" in out
    [again] = held(ws)
    face = next(f for f in again["faces"] if f["face"] == n)
    assert face["confirmed"] == "biden"
    assert face["decisions"] == {"website": "keep", "social": "blur", "newsletter": "keep", "press": "blur"}
    assert again["ready"] is True
    assert not list((ws / "approved" / "website").glob(f"*{record(ws, item['id'])['sha256'][:12]}*"))
    [dec] = query(ws, "SELECT * FROM review_decisions WHERE job_id=?", (item["id"],))
    assert (dec["face_idx"] + 1, dec["decision"], dec["person_id"], dec["actor"]) == (n, "identify", "biden", "Mrs Patel")
    assert dec["at"]
    stored = query(ws, "SELECT confirmed_person FROM faces WHERE job_id=? AND idx=?", (item["id"], n - 1))
    assert stored == [{"confirmed_person": "biden"}]


def _detail(img: Image.Image) -> float:
    g = np.asarray(img.convert("L"), dtype=float)
    return (np.abs(np.diff(g, axis=0)).mean() + np.abs(np.diff(g, axis=1)).mean()) / 2


def test_release_keeps_unconfirmed_faces_redacted_on_every_channel(ws):
    item = held(ws)[0]
    stranger = unknown_face(item)
    out = invoke(ws, "review", "decide", item["id"], "--release", "--by", "Mr Cole").stdout
    assert f"Image {item['id']} released" in out
    assert held(ws) == []
    assert not (ws / item["preview"]).exists()
    rec = record(ws, item["id"])
    assert rec["status"] == "released" and "Mr Cole" in rec["reason"]
    assert set(rec["outputs"]) == set(CHANNELS)
    for channel, rel in rec["outputs"].items():
        assert rel.startswith(f"approved/{channel}/") and (ws / rel).is_file()
    faces = {f["box"][0]: f for f in rec["faces"]}
    assert set(faces[stranger["box"][0]]["decisions"].values()) == {"blur"}
    # the stranger's face is really redacted in every output: its region has lost nearly all detail
    # (mean difference between neighbouring pixels; a smooth colour gradient may remain, features may not)
    original = Image.open(fixtures_dir("faces", "events") / "obama_and_biden.jpg").convert("RGB")
    top, right, bottom, left = stranger["box"]
    for rel in rec["outputs"].values():
        out_img = Image.open(ws / rel).convert("RGB")
        s = out_img.width / original.width
        region = (int(left * s), int(top * s), int(right * s), int(bottom * s))
        before = _detail(original.resize(out_img.size).crop(region))
        assert _detail(out_img.crop(region)) < before / 8
    rows = query(ws, "SELECT channel, state FROM outputs WHERE job_id=?", (item["id"],))
    assert sorted(r["channel"] for r in rows) == sorted(CHANNELS) and {r["state"] for r in rows} == {"live"}
    dec = query(ws, "SELECT decision, actor FROM review_decisions WHERE job_id=?", (item["id"],))
    assert dec == [{"decision": "release", "actor": "Mr Cole"}]
    # kept faces are kept: obama is recognisable on the website (consent granted)
    assert Recogniser().shows(ws / rec["outputs"]["website"], "obama")
    # the captions: names scrubbed per channel (biden refused on social)
    assert (ws / rec["outputs"]["social"]).with_suffix(".txt").read_text().strip() == "Barack at the school fair"


def test_block(ws):
    item = held(ws)[0]
    invoke(ws, "review", "decide", item["id"], "--block")
    assert held(ws) == []
    assert not (ws / item["preview"]).exists()
    assert query(ws, "SELECT status FROM jobs WHERE id=?", (item["id"],)) == [{"status": "blocked"}]
    assert query(ws, "SELECT * FROM outputs WHERE job_id=?", (item["id"],)) == []
    [dec] = query(ws, "SELECT decision, actor FROM review_decisions WHERE job_id=?", (item["id"],))
    assert dec["decision"] == "block" and dec["actor"]


def test_confirming_a_never_publish_person_blocks_at_once(ws):
    item = held(ws)[0]
    out = invoke(ws, "review", "decide", item["id"], "--face", unknown_face(item)["face"], "--as", "rose_leslie")
    assert "BLOCKED" in out.stdout
    assert held(ws) == []
    assert query(ws, "SELECT status FROM jobs WHERE id=?", (item["id"],)) == [{"status": "blocked"}]
    assert not (ws / item["preview"]).exists()


def test_identify_unknown_then_release_in_one_command(ws):
    item = held(ws)[0]
    n = unknown_face(item)["face"]
    invoke(ws, "review", "decide", item["id"], "--face", n, "--as", "unknown", "--release", "--json")
    rec = record(ws, item["id"])
    assert rec["status"] == "released"
    face = rec["faces"][n - 1]
    assert set(face["decisions"].values()) == {"blur"}
    kinds = [r["decision"] for r in query(ws, "SELECT decision FROM review_decisions WHERE job_id=? ORDER BY id",
                                          (item["id"],))]
    assert kinds == ["identify", "release"]


def test_release_refused_while_a_face_may_be_a_never_publish_person(ws):
    item = held(ws)[0]
    # Stricter matching turns obama's face from identified into uncertain, and obama becomes never-publish.
    set_config(ws, "faces", "match_tolerance", "0.3")
    rows = [r.replace("obama,Barack,Obama,Y6,pupil,yes,yes,yes,yes,,no", "obama,Barack,Obama,Y6,pupil,yes,yes,yes,yes,,yes")
            for r in __import__("tests.review_helpers", fromlist=["REGISTER"]).REGISTER]
    from tests.review_helpers import write_register

    invoke(ws, "consent", "import", write_register(ws.parent / "r2.csv", rows))
    r = invoke(ws, "review", "decide", item["id"], "--release", expect=2)
    assert "was not released" in r.output and "never be published" in r.output and "Traceback" not in r.output
    assert [i["id"] for i in held(ws)] == [item["id"]]
    assert not list((ws / "approved" / "website").glob(f"*{record(ws, item['id'])['sha256'][:12]}*"))
    # Saying who that face really is (someone else) lets it go.
    obama_face = next(f for f in held(ws)[0]["faces"] if f["person"] == "obama")
    invoke(ws, "review", "decide", item["id"], "--face", obama_face["face"], "--as", "unknown", "--release")
    assert record(ws, item["id"])["status"] == "released"


@pytest.mark.parametrize("args, message", [
    (["999", "--release"], "no image with id 999"),
    (["{id}"], "Say what to decide"),
    (["{id}", "--face", "0"], "go together"),
    (["{id}", "--release", "--block"], "Choose one"),
    (["{id}", "--face", "7", "--as", "obama"], "no face 7"),
    (["{id}", "--face", "1", "--as", "nobody_here"], "no person 'nobody_here'"),
    (["{released}", "--release"], "not waiting for review"),
])
def test_decide_errors_are_plain(ws, args, message):
    ids = {"id": held(ws)[0]["id"], "released": job_id(ws, "obama1.jpg")}
    r = invoke(ws, "review", "decide", *[a.format(**ids) for a in args], expect=2)
    assert message in r.output and "Traceback" not in r.output
    assert len(held(ws)) == 1


def test_a_copy_of_a_held_photo_follows_the_first(ws, tmp_path):
    item = held(ws)[0]
    again = tmp_path / "copy_of_it.jpg"
    shutil.copy(fixtures_dir("faces", "events") / "obama_and_biden.jpg", again)
    invoke(ws, "process", again)
    copy_id = query(ws, "SELECT max(id) AS id FROM jobs")[0]["id"]
    [listed] = held(ws)
    assert listed["id"] == item["id"] and listed["copies"] == [{"id": copy_id, "source": str(again)}]
    r = invoke(ws, "review", "decide", copy_id, "--release", expect=2)
    assert f"copy of image {item['id']}" in r.output
    invoke(ws, "review", "decide", item["id"], "--release")
    assert query(ws, "SELECT status FROM jobs WHERE id=?", (copy_id,)) == [{"status": "released"}]
    assert query(ws, "SELECT * FROM outputs WHERE job_id=?", (copy_id,)) == []


def test_help_says_identifying_does_not_release():
    from click.testing import CliRunner

    from pipeline.cli import main

    text = CliRunner().invoke(main, ["review", "decide", "--help"]).output
    assert "never releases an image on its own" in text


def test_a_withdrawal_redacts_the_person_in_held_previews_too(ws):
    """A held photo's preview shows the reviewer the faces kept on every channel; once a family
    withdraws consent on one channel, that child is redacted in the preview as well."""
    item = held(ws)[0]
    [obama] = [f for f in item["faces"] if f["person"] == "obama"]
    top, right, bottom, left = obama["box"]
    original = Image.open(fixtures_dir("faces", "events") / "obama_and_biden.jpg")

    def obama_detail():
        preview = Image.open(ws / item["preview"]).convert("RGB")
        s = preview.width / original.width
        return _detail(preview.crop((int(left * s), int(top * s), int(right * s), int(bottom * s))))

    before = obama_detail()
    invoke(ws, "consent", "set", "obama", "--channel", "website", "--status", "withdrawn")
    assert obama_detail() < before / 8
    assert [i["id"] for i in held(ws)] == [item["id"]]  # still held: a withdrawal never releases it
    # what is stored follows what the preview shows, so the daily check does not draw it again
    [stored] = [f for f in held(ws)[0]["faces"] if f["person"] == "obama"]
    assert stored["decisions"]["website"] == "blur"
    [recorded] = [f for f in record(ws, item["id"])["faces"] if f["person"] == "obama"]
    assert recorded["decisions"]["website"] == "blur"
    drawn = (ws / item["preview"]).stat().st_mtime_ns
    invoke(ws, "consent", "expire")
    assert (ws / item["preview"]).stat().st_mtime_ns == drawn
