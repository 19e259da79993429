"""The release path end to end, through the real CLI, on the shared fixture photos."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import exiftool, fixtures_dir, json_lines

CHANNELS = ["website", "social", "newsletter", "press"]

# person_id, given, family, website, social, newsletter, press, expires, never_publish
REGISTER = [
    ("obama", "Barack", "Obama", "yes", "yes", "yes", "yes", "", "no"),
    ("biden", "Joe", "Biden", "yes", "no", "yes", "no", "", "no"),
    ("alex_lacamoire", "Alex", "Lacamoire", "no", "no", "no", "no", "", "no"),
    ("kit_harington", "Kit", "Harington", "yes", "yes", "yes", "yes", "2020-07-31", "no"),
    ("rose_leslie", "Rose", "Leslie", "yes", "yes", "yes", "yes", "", "yes"),
]


def write_register(path: Path, rows=REGISTER) -> Path:
    lines = ["person_id,given_name,family_name,group,role,website,social,newsletter,press,expires,never_publish,biometric"]
    for pid, given, family, *rest in rows:
        web, soc, news, press, expires, never = rest
        lines.append(f"{pid},{given},{family},Y6,pupil,{web},{soc},{news},{press},{expires},{never},yes")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory):
    """A workspace with the five fixture people registered (different consents) and enrolled."""
    from pipeline.cli import main
    from click.testing import CliRunner

    enrol_dir = fixtures_dir("faces", "enrol")
    root = tmp_path_factory.mktemp("release") / "ws"
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(root)]).exit_code == 0
    csv = write_register(root.parent / "register.csv")
    r = runner.invoke(main, ["--workspace", str(root), "consent", "import", str(csv)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["--workspace", str(root), "consent", "enrol", str(enrol_dir)])
    assert r.exit_code == 0, r.output
    return root


@pytest.fixture(scope="module")
def events_result(enrolled, tmp_path_factory):
    """Process every event photo once (with a caption naming everyone) and keep the JSON records."""
    from pipeline.cli import main
    from click.testing import CliRunner

    events = fixtures_dir("faces", "events")
    staged = tmp_path_factory.mktemp("events")
    for f in events.iterdir():
        shutil.copy(f, staged / f.name)
    caption = "Barack Obama, Joe Biden, Alex Lacamoire, Kit Harington and Rose Leslie at the school fair"
    r = CliRunner().invoke(main, ["--workspace", str(enrolled), "process", str(staged), "--caption", caption, "--json"])
    assert r.exit_code == 0, r.output
    records = {Path(rec["source"]).name: rec for rec in json_lines(r.stdout)}
    assert len(records) == 6
    return records


def faces_by_person(record):
    return {f["person"]: f for f in record["faces"] if f["match"] == "identified"}


def test_statuses_and_decisions(events_result):
    r = events_result
    assert r["obama1.jpg"]["status"] == "released"
    assert faces_by_person(r["obama1.jpg"])["obama"]["decisions"] == {c: "keep" for c in CHANNELS}

    # refused everywhere: still released, blurred on every channel
    alex = r["alex_lacamoire1.jpg"]
    assert alex["status"] == "released"
    assert faces_by_person(alex)["alex_lacamoire"]["decisions"] == {c: "blur" for c in CHANNELS}

    # consent expired in 2020: blurred everywhere
    kit = r["johnsnow_test1.jpg"]
    assert kit["status"] == "released"
    assert faces_by_person(kit)["kit_harington"]["decisions"] == {c: "blur" for c in CHANNELS}

    # rose_leslie must never be published: blocked, nothing written
    rose = r["kit_with_rose.jpg"]
    assert rose["status"] == "blocked" and rose["outputs"] == {}
    assert any(f["decisions"]["website"] == "block" for f in rose["faces"])

    two = r["two_people.jpg"]
    assert two["status"] == "released"
    people = faces_by_person(two)
    assert people["obama"]["decisions"] == {c: "keep" for c in CHANNELS}
    assert people["biden"]["decisions"] == {"website": "keep", "social": "blur", "newsletter": "keep", "press": "blur"}
    # obama on the left, biden on the right
    assert people["obama"]["box"][3] < people["biden"]["box"][3]

    three = r["obama_and_biden.jpg"]
    assert three["status"] == "released"
    assert set(faces_by_person(three)) == {"obama", "biden"}
    unknown = [f for f in three["faces"] if f["match"] == "unknown"]
    assert unknown and all(f["decisions"] == {c: "blur" for c in CHANNELS} for f in unknown)


def test_released_outputs_per_channel(events_result, enrolled):
    for name, rec in events_result.items():
        if rec["status"] != "released":
            continue
        assert set(rec["outputs"]) == set(CHANNELS)
        for channel, rel in rec["outputs"].items():
            path = enrolled / rel
            assert path.parent == enrolled / "approved" / channel
            assert path.is_file() and path.suffix == ".jpg"
            with Image.open(path) as im:
                im.load()
                assert max(im.size) <= 2048


def _independent_encodings(path: Path):
    """face_recognition (not our code path) finds and encodes the faces of an output."""
    from tests.conftest import import_face_recognition

    face_recognition = import_face_recognition()

    img = face_recognition.load_image_file(str(path))
    boxes = face_recognition.face_locations(img, number_of_times_to_upsample=1)
    return face_recognition.face_encodings(img, boxes)


@pytest.fixture(scope="module")
def reference(enrolled):
    from consent.register import load_reference_encodings
    from pipeline.workspace import open_workspace

    ws = open_workspace(enrolled)
    ids, enc = load_reference_encodings(ws.db)
    ws.close()
    return ids, enc


def _closest(encodings, ids, ref, person):
    mine = ref[[i for i, p in enumerate(ids) if p == person]]
    if not encodings:
        return np.inf
    return min(float(np.linalg.norm(mine - e, axis=1).min()) for e in encodings)


def test_no_redacted_person_recognisable_and_no_consented_person_over_redacted(events_result, enrolled, reference):
    ids, ref = reference
    checked_hidden = checked_kept = 0
    for rec in events_result.values():
        for channel, rel in rec.get("outputs", {}).items():
            encodings = _independent_encodings(enrolled / rel)
            for face in rec["faces"]:
                person = face["person"]
                if face["match"] != "identified":
                    continue
                d = _closest(encodings, ids, ref, person)
                if face["decisions"][channel] == "keep":
                    assert d <= 0.6, f"{person} over-redacted on {channel} in {rel} (closest {d:.2f})"
                    checked_kept += 1
                else:
                    assert d > 0.6, f"{person} still recognisable on {channel} in {rel} (distance {d:.2f})"
                    checked_hidden += 1
    assert checked_hidden >= 8 and checked_kept >= 8


def test_no_full_name_in_filenames_or_captions(events_result, enrolled):
    full_names = [f"{g} {f}" for _, g, f, *_ in REGISTER]
    for rec in events_result.values():
        for channel, rel in rec.get("outputs", {}).items():
            assert not any(part.lower() in rel.lower() for n in full_names for part in n.split())
            caption_file = (enrolled / rel).with_suffix(".txt")
            text = caption_file.read_text(encoding="utf-8")
            assert text.strip() == rec["captions"][channel]
            for n in full_names:
                assert n.lower() not in text.lower()
    # Obama is kept everywhere: first name only; Biden only where he is kept
    two = events_result["two_people.jpg"]["captions"]
    assert "Barack" in two["website"] and "Joe" in two["website"]
    assert "Barack" in two["social"] and "Joe" not in two["social"] and "Biden" not in two["social"]
    # names of people not kept (refused, expired, never-publish, or not in the photo) are removed entirely
    assert "Alex" not in two["website"] and "Rose" not in two["website"] and "Kit" not in two["website"]


def test_outputs_carry_no_metadata(events_result, enrolled):
    from tests.exif_allowlist import exiftool_tags, leaked_tags

    tool = exiftool()
    outputs = [enrolled / rel for rec in events_result.values() for rel in rec.get("outputs", {}).values()]
    assert len(outputs) >= 20
    for path in outputs:
        assert leaked_tags(exiftool_tags(path, tool)) == [], path


def test_originals_kept_privately_and_decisions_recorded(events_result, enrolled):
    import sqlite3
    originals = enrolled / "originals"
    assert (originals.stat().st_mode & 0o777) == 0o700
    kept = [p for p in originals.iterdir() if p.is_file()]
    assert len(kept) >= 6 and all((p.stat().st_mode & 0o077) == 0 for p in kept)
    conn = sqlite3.connect(enrolled / "pipeline.db")
    n_faces = conn.execute("SELECT count(*) FROM faces").fetchone()[0]
    assert n_faces == sum(len(r["faces"]) for r in events_result.values())
    statuses = dict(conn.execute("SELECT source, status FROM jobs WHERE state='done'").fetchall())
    assert sorted(statuses.values()).count("released") == 5


def test_every_metadata_file_gets_a_result(enrolled, tmp_path):
    from pipeline.cli import main
    from click.testing import CliRunner

    meta = fixtures_dir("metadata")
    files = sorted(p for p in meta.rglob("*") if p.is_file() and p.suffix.lower() != ".md")
    r = CliRunner().invoke(main, ["--workspace", str(enrolled), "process", str(meta), "--json"],
                           catch_exceptions=False)
    records = json_lines(r.stdout)
    assert len(records) == len(files)
    assert all(rec["status"] in {"released", "review", "blocked", "rejected"} and rec["reason"] for rec in records)
    by_name = {Path(rec["source"]).name: rec for rec in records}
    assert by_name["corrupted.jpg"]["status"] == "rejected"
    assert r.exit_code == 1  # some inputs were rejected
    assert "gps" in by_name["DSCN0010.jpg"]["metadata_found"]
    assert by_name["IMG_5195.HEIC"]["status"] != "rejected"
    # orientation: every corrected output looks like the upright original
    ref = {}
    for kind in ("landscape", "portrait"):
        for i in range(1, 9):
            rec = by_name[f"{kind}_{i}.jpg"]
            assert rec["status"] == "released", rec
            with Image.open(enrolled / rec["outputs"]["website"]) as im:
                small = np.asarray(im.convert("L").resize((32, 32)), dtype=float)
                if kind == "landscape":
                    assert im.size[0] > im.size[1]
                else:
                    assert im.size[1] > im.size[0]
            ref.setdefault(kind, small)
            assert np.abs(small - ref[kind]).mean() < 12, f"{kind}_{i} not upright"
