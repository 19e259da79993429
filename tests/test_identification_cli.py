"""Issue 20 through the real CLI on the fixture photos: the identification rule and its basis in
`consent check`, the enrolment guard, mirrored reference photos identified, strangers never
identified, and `[faces] uncertain = "redact" | "review"`."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from tests.conftest import fixtures_dir, json_lines

HEADER = "person_id,given_name,family_name,group,role,website,social,newsletter,press,expires,never_publish,biometric"
PEOPLE = ["obama", "biden", "alex_lacamoire", "kit_harington", "rose_leslie"]


def cli(root: Path, *args, expect: int | None = 0):
    from click.testing import CliRunner

    from pipeline.cli import main

    result = CliRunner().invoke(main, ["--workspace", str(root), *map(str, args)], catch_exceptions=False)
    if expect is not None:
        assert result.exit_code == expect, (args, result.exit_code, result.output)
    return result


def new_workspace(parent: Path, extra_rows=()) -> Path:
    from click.testing import CliRunner

    from pipeline.cli import main

    root = parent / "ws"
    assert CliRunner().invoke(main, ["init", str(root)]).exit_code == 0
    rows = [f"{p},{p.split('_')[0].title()},Test,Y6,pupil,yes,yes,yes,yes,,no,yes" for p in PEOPLE]
    (parent / "register.csv").write_text("\n".join([HEADER, *rows, *extra_rows]) + "\n", encoding="utf-8")
    cli(root, "consent", "import", parent / "register.csv")
    return root


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory):
    """The five fixture people (none never-publish, so uncertain faces show what the setting does)
    and one person with consent but no reference photo."""
    parent = tmp_path_factory.mktemp("ident")
    root = new_workspace(parent, ["nobody,No,Photo,Y6,pupil,yes,no,no,no,,no,yes"])
    cli(root, "consent", "enrol", fixtures_dir("faces", "enrol"))
    return root


def test_consent_check_reports_the_rule_and_its_basis(enrolled):
    out = json.loads(cli(enrolled, "consent", "check", "--json").stdout)
    cal = out["calibration"]
    # five people are too few to measure how alike different people are: the stricter fallback, said so
    assert cal["calibrated"] is False and cal["method"] == "fallback"
    assert cal["people"] == 5 and cal["references"] == 9 and cal["pairs"] == 9 * 4
    assert cal["threshold_used"] == 0.4 and cal["target"] == 0.0001
    assert "Not calibrated" in cal["note"]
    assert out["consent_without_reference"] == ["nobody"]
    assert [x["person_id"] for x in out["too_few_references"]] == ["alex_lacamoire"]
    assert out["lookalike_pairs"] == [] and out["too_close"] == []
    text = cli(enrolled, "consent", "check").stdout
    assert "Identification rule: Not calibrated: only 5 people have reference photos" in text
    assert "Consent but no reference photo" in text and "nobody" in text
    # the rule is stored with its basis
    from pipeline.workspace import open_workspace

    ws = open_workspace(enrolled)
    try:
        row = ws.db.execute("SELECT people, pairs, target, threshold, calibrated FROM identification_calibration").fetchone()
    finally:
        ws.close()
    assert tuple(row) == (5, 36, 0.0001, 0.4, 0)


def test_enrolment_guard_refuses_a_photo_that_looks_like_another_person(enrolled, tmp_path):
    folder = tmp_path / "photos" / "biden"
    folder.mkdir(parents=True)
    obama = fixtures_dir("faces", "enrol", "obama") / "obama.jpg"
    with Image.open(obama) as im:                       # other bytes, same face, filed under biden
        ImageOps.exif_transpose(im).convert("RGB").save(folder / "biden_new.jpg", quality=85)
    r = cli(enrolled, "consent", "enrol", tmp_path / "photos", expect=1)
    assert "biden/biden_new.jpg: looks like obama" in r.output and "check the folder" in r.output
    r = cli(enrolled, "consent", "enrol", tmp_path / "photos", "--json", expect=1)
    refused = json.loads(r.stdout)["refused"]
    assert refused[0]["file"] == "biden/biden_new.jpg" and refused[0]["reason"].startswith("looks like obama")
    from pipeline.workspace import open_workspace

    ws = open_workspace(enrolled)
    try:
        assert ws.db.execute("SELECT count(*) FROM reference_encodings WHERE person_id='biden'").fetchone()[0] == 2
    finally:
        ws.close()


@pytest.fixture(scope="module")
def processed(enrolled, tmp_path_factory):
    """Mirrored copies of every reference photo and the group photos (strangers), processed once."""
    staged = tmp_path_factory.mktemp("probes")
    for folder in sorted(fixtures_dir("faces", "enrol").iterdir()):
        for f in sorted(folder.iterdir()):
            with Image.open(f) as im:
                ImageOps.mirror(ImageOps.exif_transpose(im).convert("RGB")).save(
                    staged / f"mirror-{folder.name}-{f.stem}.jpg", quality=92)
    for f in sorted(fixtures_dir("faces", "groups").glob("*.jpg")):
        shutil.copy(f, staged / f"stranger-{f.name}")
    r = cli(enrolled, "process", staged, "--json")
    return {Path(rec["source"]).name: rec for rec in json_lines(r.stdout)}


def test_mirrored_reference_photos_are_identified_and_strangers_never(processed):
    mirrors = {n: r for n, r in processed.items() if n.startswith("mirror-")}
    assert len(mirrors) == 9
    for name, rec in mirrors.items():
        person = name.split("-")[1]
        identified = [f for f in rec["faces"] if f["match"] == "identified"]
        assert [f["person"] for f in identified] == [person], (name, rec["faces"])
    strangers = [f for n, r in processed.items() if n.startswith("stranger-") for f in r["faces"]]
    assert len(strangers) > 40
    assert not [f for f in strangers if f["match"] == "identified"]
    # nobody in a group photo is held: an uncertain face is redacted by default, the photo released
    for n, r in processed.items():
        if n.startswith("stranger-"):
            assert r["status"] == "released", (n, r["reason"])
            assert all(set(f["decisions"].values()) == {"blur"} for f in r["faces"])


def test_uncertain_faces_are_redacted_by_default_and_held_with_review(enrolled, tmp_path):
    """rose_leslie in kit_with_rose.jpg is 0.44 from her reference photos: close, not identified."""
    src = fixtures_dir("faces", "events") / "kit_with_rose.jpg"
    first = tmp_path / "a"
    first.mkdir()
    shutil.copy(src, first / "kit_with_rose.jpg")
    [rec] = json_lines(cli(enrolled, "process", first / "kit_with_rose.jpg", "--json").stdout)
    uncertain = [f for f in rec["faces"] if f["match"] == "uncertain"]
    assert uncertain and uncertain[0]["person"] == "rose_leslie"
    assert rec["status"] == "released"
    assert set(uncertain[0]["decisions"].values()) == {"blur"}

    toml = enrolled / "pipeline.toml"
    saved = toml.read_text(encoding="utf-8")
    try:
        toml.write_text(saved.replace('uncertain = "redact"', 'uncertain = "review"'), encoding="utf-8")
        second = tmp_path / "b"
        second.mkdir()
        with Image.open(src) as im:   # the same pixels in other bytes: not a duplicate of the first
            im.convert("RGB").save(second / "kit_with_rose_2.png")
        [rec] = json_lines(cli(enrolled, "process", second / "kit_with_rose_2.png", "--json").stdout)
        assert rec["status"] == "review" and rec["outputs"] == {}, (rec["reason"], rec["faces"])
        assert "uncertain match" in rec["reason"]
    finally:
        toml.write_text(saved, encoding="utf-8")


def test_a_mistyped_uncertain_setting_is_refused_in_one_sentence(enrolled):
    toml = enrolled / "pipeline.toml"
    saved = toml.read_text(encoding="utf-8")
    try:
        toml.write_text(saved.replace('uncertain = "redact"', 'uncertain = "blur"'), encoding="utf-8")
        r = cli(enrolled, "consent", "check", expect=2)
        assert "[faces] uncertain = 'blur' is not one of redact, review" in r.output
        assert "Traceback" not in r.output
    finally:
        toml.write_text(saved, encoding="utf-8")


@pytest.mark.slow
def test_a_register_of_thirty_people_or_more_is_calibrated_through_the_cli(tmp_path):
    """Every face of at least 60 px in the fixture group photos becomes a person of its own (34
    crops) beside the five fixture people: enough to calibrate. The rule, its basis and the stored
    row agree; mirrored crops of enrolled people and the events' strangers are never named wrongly."""
    from processors.face_detect import DetectOptions, detect

    refs = tmp_path / "refs"
    refs.mkdir()
    n = 0
    for src in sorted(fixtures_dir("faces", "groups").glob("*.jpg")):
        with Image.open(src) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
        for det in detect(__import__("numpy").asarray(im), DetectOptions()):
            top, right, bottom, left = det.box
            size = min(bottom - top, right - left)
            if size < 60:
                continue
            pad = size // 2
            crop = im.crop((max(0, left - pad), max(0, top - pad), min(im.width, right + pad), min(im.height, bottom + pad)))
            crop = crop.resize((crop.width * 2, crop.height * 2)) if min(crop.size) < 200 else crop
            n += 1
            crop.save(refs / f"S{n:03d}.jpg", quality=95)
    assert n >= 30
    for folder in fixtures_dir("faces", "enrol").iterdir():
        shutil.copytree(folder, refs / folder.name)
    root = new_workspace(tmp_path, [f"S{i:03d},Given,Family,Y3,pupil,yes,no,yes,no,,no,yes" for i in range(1, n + 1)])
    r = cli(root, "consent", "enrol", refs, "--json", expect=None)
    report = json.loads(r.stdout)
    enrolled = {e["person_id"] for e in report["enrolled"]}
    assert len(enrolled) >= 30

    out = json.loads(cli(root, "consent", "check", "--json").stdout)
    cal = out["calibration"]
    assert cal["calibrated"] is True and cal["method"].startswith("cohort score") and "probit fit" in cal["method"]
    assert cal["people"] == len(enrolled) and cal["pairs"] == cal["references"] * (cal["people"] - 1)
    assert 0.0 <= cal["threshold_used"] <= 0.5
    assert cal["z_threshold"] <= cal["fit"]["z_normal"] < -4     # never looser than the normal quantile
    assert cal["fit"]["lowest_impostor_distance"] > 0.2
    if cal["threshold_used"] < 0.1:
        assert "too strict to identify anyone" in cal["note"]
    assert "Calibrated on" in cli(root, "consent", "check").stdout

    probes = tmp_path / "probes"
    probes.mkdir()
    for f in sorted(refs.glob("S*.jpg"))[:12]:
        with Image.open(f) as im:
            ImageOps.mirror(im.convert("RGB")).save(probes / f"mirror-{f.name}", quality=92)
    shutil.copy(fixtures_dir("faces", "events") / "obama_and_biden.jpg", probes / "obama_and_biden.jpg")
    records = json_lines(cli(root, "process", probes, "--json").stdout)
    for rec in records:
        name = Path(rec["source"]).name
        for face in rec["faces"]:
            if face["match"] != "identified":
                continue
            if name.startswith("mirror-"):
                assert face["person"] == name[len("mirror-"):-len(".jpg")], (name, face)
            else:
                assert face["person"] in {"obama", "biden"}, (name, face)   # never the stranger
        assert rec["status"] in ("released", "review")
