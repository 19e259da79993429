"""`pipeline audit` on a messy archive built from the shared fixture photos, through the real CLI.

The archive holds GPS files, a full name in a file name (with spaces, and with ``_``/``-``),
a full name in an embedded description, faces of people in every consent state, a clean
file, a damaged photo, a text file and a link pointing out of the tree. The audit must find
every finding, exit with 1, leave the tree byte-for-byte and timestamp-for-timestamp as it
was, and, after a consent withdrawal, flag the new withdrawal from the cache — much faster.
"""
from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from tests.conftest import exiftool, fixtures_dir, json_lines, run_pipeline

CHANNELS = ["website", "social", "newsletter", "press"]
HEADER = "person_id,given_name,family_name,group,role,website,social,newsletter,press,expires,never_publish,biometric"
REGISTER = [
    "obama,Barack,Obama,Y6,pupil,yes,yes,yes,yes,,no,yes",
    "biden,Joe,Biden,Y6,pupil,yes,yes,yes,yes,,no,yes",            # withdrawn on website below
    "alex_lacamoire,Alex,Lacamoire,Y6,pupil,no,no,no,no,,no,yes",   # refused everywhere
    "kit_harington,Kit,Harington,Y6,pupil,yes,yes,yes,yes,2020-07-31,no,yes",  # expired
    "rose_leslie,Rose,Leslie,Y6,pupil,yes,yes,yes,yes,,yes,yes",    # never publish
]


# --------------------------------------------------------------------------- helpers

def gradient(size=(480, 320)) -> Image.Image:
    w, h = size
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None, None]
    rgb = np.concatenate([np.broadcast_to(x, (h, w, 1)), np.broadcast_to(y, (h, w, 1)),
                          np.full((h, w, 1), 90, np.float32)], axis=2)
    return Image.fromarray(rgb.astype(np.uint8), "RGB")


def snapshot(root: Path) -> dict:
    """Every entry under ``root``: content hash, size, mode and modification time (links: their target)."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath) / name
            st = os.lstat(p)
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p), st.st_mtime_ns)
            elif p.is_dir():
                out[rel] = ("dir", st.st_mode, st.st_mtime_ns)
            else:
                out[rel] = ("file", hashlib.sha256(p.read_bytes()).hexdigest(), st.st_size, st.st_mode,
                            st.st_mtime_ns)
    st = os.stat(root)
    out["."] = ("dir", st.st_mode, st.st_mtime_ns)
    return out


def by_path(records: list[dict], archive: Path) -> dict[str, dict]:
    return {str(Path(r["path"]).relative_to(archive)): r for r in records}


def kinds(record: dict, channel: str | None = None) -> set[str]:
    return {f["kind"] for f in record["findings"] if channel is None or f["channel"] == channel}


def face_findings(record: dict, kind: str) -> list[dict]:
    return [f for f in record["findings"] if f["kind"] == kind]


def build_archive(root: Path) -> Path:
    events = fixtures_dir("faces", "events")
    meta = fixtures_dir("metadata")
    archive = root / "archive"
    (archive / "gps").mkdir(parents=True)
    (archive / "events" / "2019").mkdir(parents=True)
    (archive / "team").mkdir()
    (archive / "broken").mkdir()
    shutil.copy(meta / "DSCN0010.jpg", archive / "gps" / "DSCN0010.jpg")
    shutil.copy(events / "obama1.jpg", archive / "events" / "Barack Obama at the fair.jpg")
    shutil.copy(events / "two_people.jpg", archive / "events" / "2019" / "two_people.jpg")
    for name in ("alex_lacamoire1.jpg", "johnsnow_test1.jpg", "kit_with_rose.jpg", "obama_and_biden.jpg"):
        shutil.copy(events / name, archive / "events" / name)
    shutil.copy(meta / "invalid" / "corrupted.jpg", archive / "broken" / "corrupted.jpg")
    # A photo whose embedded description names a pupil in full.
    exif = Image.Exif()
    exif[0x010E] = "Joe Biden at sports day"
    gradient().save(archive / "described.jpg", "JPEG", quality=85, exif=exif.tobytes())
    # A full name in a file name written with underscores and a hyphen.
    gradient((200, 160)).save(archive / "team" / "Kit_Harington-sports.png")
    # A clean file: pixels only, no faces.
    from processors.output import encode_jpeg

    (archive / "clean.jpg").write_bytes(encode_jpeg(gradient(), max_edge=2048, quality=85))
    (archive / "notes.txt").write_text("Sports day went well. Remember the sun hats.\n", encoding="utf-8")
    os.symlink(events / "obama1.jpg", archive / "link to outside.jpg")
    return archive


def enrolled_workspace(root: Path) -> Path:
    """``root/ws`` with the register (biden withdrawn on website) imported and the fixture people enrolled."""
    enrol = fixtures_dir("faces", "enrol")
    ws = root / "ws"
    assert run_pipeline("init", ws).returncode == 0
    (root / "register.csv").write_text(HEADER + "\n" + "\n".join(REGISTER) + "\n", encoding="utf-8")
    for args in (("consent", "import", root / "register.csv"), ("consent", "enrol", enrol),
                 ("consent", "set", "biden", "--channel", "website", "--status", "withdrawn", "--reason", "letter")):
        r = run_pipeline("--workspace", ws, *args)
        assert r.returncode == 0, r.stderr
    return ws


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """Register + enrolment, the messy archive, and a first audit through the CLI (JSON to a file)."""
    root = tmp_path_factory.mktemp("audit")
    ws = enrolled_workspace(root)
    archive = build_archive(root)
    before = snapshot(archive)
    out = root / "reports"
    out.mkdir()
    started = time.monotonic()
    first = run_pipeline("--workspace", ws, "audit", archive, "--format", "json", "--output", out / "first.jsonl")
    seconds = time.monotonic() - started
    records = json_lines((out / "first.jsonl").read_text("utf-8"))
    return SimpleNamespace(ws=ws, archive=archive, before=before, out=out, result=first, seconds=seconds,
                           records=by_path(records, archive), root=root)


# --------------------------------------------------------------------------- the first audit

def test_exit_code_and_every_file_reported(audited):
    r = audited.result
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert set(audited.records) == {
        "gps/DSCN0010.jpg", "events/Barack Obama at the fair.jpg", "events/2019/two_people.jpg",
        "events/alex_lacamoire1.jpg", "events/johnsnow_test1.jpg", "events/kit_with_rose.jpg",
        "events/obama_and_biden.jpg", "broken/corrupted.jpg", "described.jpg", "team/Kit_Harington-sports.png",
        "clean.jpg", "notes.txt", "link to outside.jpg"}
    for rec in audited.records.values():
        assert {"path", "findings", "ok"} <= set(rec)
        for f in rec["findings"]:
            assert f["channel"] in CHANNELS
            assert f["kind"] in {"not_checked", "gps", "exif", "xmp", "iptc", "thumbnail", "full_name_in_filename",
                                 "full_name_in_metadata", "face_refused", "face_withdrawn", "face_expired",
                                 "face_never_publish", "face_uncertain", "face_unknown"}


def test_tree_untouched(audited):
    assert snapshot(audited.archive) == audited.before


def test_metadata_findings(audited):
    gps = audited.records["gps/DSCN0010.jpg"]
    assert kinds(gps) >= {"gps", "exif", "thumbnail"}
    assert not {k for k in kinds(gps) if k.startswith("face_")}
    assert {f["channel"] for f in gps["findings"] if f["kind"] == "gps"} == set(CHANNELS)
    assert not gps["ok"]
    # exiftool agrees about the location and about the clean file
    tool = exiftool()
    tags = json.loads(subprocess.run([tool, "-j", "-G", "-n", str(audited.archive / "gps" / "DSCN0010.jpg")],
                                     capture_output=True, text=True, check=True).stdout)[0]
    assert any(k.endswith(":GPSLatitude") for k in tags)
    clean = json.loads(subprocess.run([tool, "-j", "-G", str(audited.archive / "clean.jpg")],
                                      capture_output=True, text=True, check=True).stdout)[0]
    assert not [k for k in clean if k.split(":")[0] in ("EXIF", "XMP", "IPTC", "GPS", "ICC_Profile")]


def test_clean_file_is_ok(audited):
    clean = audited.records["clean.jpg"]
    assert clean["ok"] is True and clean["findings"] == [] and clean["checked"] is True
    assert clean["faces"] == []


def test_full_names_in_file_names(audited):
    spaced = audited.records["events/Barack Obama at the fair.jpg"]
    assert kinds(spaced) == {"full_name_in_filename"}          # obama's consent is granted: his face is fine
    f = face_findings(spaced, "full_name_in_filename")
    assert {x["channel"] for x in f} == set(CHANNELS)
    assert f[0]["person"] == "obama" and f[0]["name"] == "Barack Obama" and f[0]["text"] == "Barack Obama"
    assert [x["person"] for x in spaced["faces"]] == ["obama"]
    joined = audited.records["team/Kit_Harington-sports.png"]
    assert kinds(joined) == {"full_name_in_filename"}
    assert face_findings(joined, "full_name_in_filename")[0]["person"] == "kit_harington"


def test_full_name_in_embedded_text(audited):
    described = audited.records["described.jpg"]
    assert kinds(described) == {"exif", "full_name_in_metadata"}
    hit = face_findings(described, "full_name_in_metadata")[0]
    assert hit["person"] == "biden" and hit["source"] == "exif:ImageDescription" and hit["text"] == "Joe Biden"
    alex = audited.records["events/alex_lacamoire1.jpg"]
    sources = {f["source"] for f in face_findings(alex, "full_name_in_metadata")}
    assert {"iptc:Caption", "exif:ImageDescription", "xmp:dc:description"} <= sources
    assert any("PersonInImage" in s for s in sources)


def test_face_withdrawn_only_on_that_channel(audited):
    rec = audited.records["events/2019/two_people.jpg"]
    assert kinds(rec) == {"face_withdrawn"}
    (f,) = face_findings(rec, "face_withdrawn")
    assert f["channel"] == "website" and f["person"] == "biden" and f["name"] == "Joe Biden"
    assert f["match"] == "identified" and len(f["box"]) == 4
    biden_face = rec["faces"][f["face"]]
    assert biden_face["box"] == f["box"] and biden_face["findings"] == {"website": "face_withdrawn"}
    assert sorted(x["person"] for x in rec["faces"]) == ["biden", "obama"]


def test_face_refused_expired_never_publish_unknown(audited):
    alex = audited.records["events/alex_lacamoire1.jpg"]
    refused = face_findings(alex, "face_refused")
    assert {f["channel"] for f in refused} == set(CHANNELS) and {f["person"] for f in refused} == {"alex_lacamoire"}
    assert kinds(alex) >= {"exif", "xmp", "iptc", "thumbnail", "full_name_in_metadata", "face_refused"}

    kit = audited.records["events/johnsnow_test1.jpg"]
    assert kinds(kit) == {"face_expired"}
    assert {(f["person"], f["channel"]) for f in face_findings(kit, "face_expired")} == \
        {("kit_harington", c) for c in CHANNELS}

    pair = audited.records["events/kit_with_rose.jpg"]
    never = face_findings(pair, "face_never_publish")
    assert {f["channel"] for f in never} == set(CHANNELS)
    assert {f["person"] for f in never} == {"rose_leslie"} and never[0]["name"] == "Rose Leslie"
    assert {f["person"] for f in face_findings(pair, "face_expired")} == {"kit_harington"}

    three = audited.records["events/obama_and_biden.jpg"]
    unknown = face_findings(three, "face_unknown")
    assert len({f["face"] for f in unknown}) == 1 and {f["channel"] for f in unknown} == set(CHANNELS)
    assert unknown[0]["person"] is None
    withdrawn = face_findings(three, "face_withdrawn")
    assert {(f["person"], f["channel"]) for f in withdrawn} == {("biden", "website")}
    assert not face_findings(three, "face_refused")


def test_unreadable_and_other_files_are_reported_not_fatal(audited):
    broken = audited.records["broken/corrupted.jpg"]
    assert broken["ok"] is False and broken["checked"] is False
    assert "damaged" in broken["error"]
    assert "exif" in kinds(broken)          # its metadata is still read: it would leak too
    notes = audited.records["notes.txt"]
    assert notes["ok"] is True and notes["findings"] == [] and "not a photo" in notes["note"]
    link = audited.records["link to outside.jpg"]
    # issue 16: a link is not followed, so it is not checked: never "ok"
    assert link["ok"] is False and link["checked"] is False and "not followed" in link["error"]
    assert {f["kind"] for f in link["findings"]} == {"not_checked"}
    assert link["sha256"] is None           # never opened


# --------------------------------------------------------------------------- other formats, from the cache

def test_csv_table_html(audited, cli):
    out = audited.out
    r = cli("audit", audited.archive, "--format", "csv", "--output", out / "a.csv", workspace=audited.ws)
    assert r.exit_code == 1, r.output
    rows = list(csv.DictReader(io.StringIO((out / "a.csv").read_text("utf-8"))))
    findings = sum(len(rec["findings"]) for rec in audited.records.values())
    no_findings = sum(1 for rec in audited.records.values() if not rec["findings"])
    assert len(rows) == findings + no_findings
    row = next(x for x in rows if x["kind"] == "face_never_publish" and x["channel"] == "press")
    assert row["person"] == "rose_leslie" and row["name"] == "Rose Leslie" and len(row["box"].split()) == 4
    assert next(x for x in rows if x["path"].endswith("clean.jpg"))["ok"] == "yes"

    r = cli("audit", audited.archive, "--output", out / "a.txt", workspace=audited.ws)
    assert r.exit_code == 1
    table = (out / "a.txt").read_text("utf-8")
    for text in ("face_never_publish", "two_people.jpg", "Files with violations", "Rose Leslie", "corrupted.jpg"):
        assert text in table

    r = cli("audit", audited.archive, "--format", "html", "--output", out / "a.html", workspace=audited.ws)
    assert r.exit_code == 1
    html = (out / "a.html").read_text("utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", html), "the report must be self-contained"
    assert "Rose Leslie" in html and "face_never_publish" in html and "clean.jpg" in html
    thumbs = dict(re.findall(r'alt="redacted preview of ([^"]+)" src="data:image/jpeg;base64,([^"]+)"', html))
    photos_with_findings = [rec["path"] for rec in audited.records.values() if rec["checked"] and rec["findings"]]
    assert set(thumbs) == set(photos_with_findings)
    from processors.output import check_pixels_only

    for data in thumbs.values():
        check_pixels_only(base64.b64decode(data))
    # Rose (never publish) is redacted in her thumbnail: almost no detail left inside her face box.
    rec = audited.records["events/kit_with_rose.jpg"]
    thumb = Image.open(io.BytesIO(base64.b64decode(thumbs[rec["path"]]))).convert("L")
    original = Image.open(audited.archive / "events" / "kit_with_rose.jpg").convert("L").resize(thumb.size)
    scale = thumb.width / rec["width"]
    rose = next(f for f in rec["faces"] if f["person"] == "rose_leslie")
    t, r_, b, l = (v * scale for v in rose["box"])
    inner = (int(l + 0.2 * (r_ - l)), int(t + 0.2 * (b - t)), int(r_ - 0.2 * (r_ - l)), int(b - 0.2 * (b - t)))

    def detail(im):
        a = np.asarray(im.crop(inner), dtype=np.float32)
        return float(np.abs(np.diff(a, axis=0)).mean() + np.abs(np.diff(a, axis=1)).mean())

    assert detail(thumb) < 0.25 * detail(original)
    assert snapshot(audited.archive) == audited.before


def test_usage_errors_exit_2_plainly(audited, cli):
    r = cli("audit", audited.root / "nope", workspace=audited.ws)
    assert r.exit_code == 2 and "Not found" in r.output
    r = cli("audit", audited.archive, "--channel", "tiktok", workspace=audited.ws)
    assert r.exit_code == 2 and "not a configured channel" in r.output
    r = cli("audit", audited.archive, "--output", audited.archive / "report.json", "--format", "json",
            workspace=audited.ws)
    assert r.exit_code == 2 and "inside the audited folder" in r.output
    r = cli("audit", audited.archive, "--format", "pdf", workspace=audited.ws)
    assert r.exit_code == 2
    assert snapshot(audited.archive) == audited.before


def test_one_channel(audited, cli):
    r = cli("audit", audited.archive / "events", "--channel", "social", "--format", "json", workspace=audited.ws)
    assert r.exit_code == 1
    recs = by_path(json_lines(r.stdout), audited.archive)
    assert all(f["channel"] == "social" for rec in recs.values() for f in rec["findings"])
    assert kinds(recs["events/2019/two_people.jpg"]) == set()   # biden withdrew on website only
    assert recs["events/2019/two_people.jpg"]["ok"] is True


# --------------------------------------------------------------------------- after a consent change

def test_reaudit_after_withdrawal_uses_the_cache(audited, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(audited.ws, ws)       # the module's workspace keeps its register for the other tests
    r = run_pipeline("--workspace", ws, "consent", "set", "obama", "--channel", "website", "--status", "withdrawn")
    assert r.returncode == 0, r.stderr
    started = time.monotonic()
    again = run_pipeline("--workspace", ws, "audit", audited.archive, "--format", "json")
    seconds = time.monotonic() - started
    assert again.returncode == 1, again.stderr
    recs = by_path(json_lines(again.stdout), audited.archive)
    for name in ("events/Barack Obama at the fair.jpg", "events/2019/two_people.jpg", "events/obama_and_biden.jpg"):
        withdrawn = {(f["person"], f["channel"]) for f in face_findings(recs[name], "face_withdrawn")}
        assert ("obama", "website") in withdrawn, name
        assert ("obama", "social") not in withdrawn
    assert kinds(recs["events/Barack Obama at the fair.jpg"]) == {"full_name_in_filename", "face_withdrawn"}
    checked = [rec for rec in recs.values() if rec["checked"]]
    assert checked and all(rec["from_cache"] for rec in checked)
    assert recs["broken/corrupted.jpg"]["from_cache"] is True
    assert snapshot(audited.archive) == audited.before
    print(f"\nfirst audit {audited.seconds:.1f} s, re-audit after a withdrawal {seconds:.2f} s "
          f"(both whole CLI runs): {audited.seconds / seconds:.0f}x faster")
    assert seconds < audited.seconds  # sanity only; the ratio is reported above, not asserted


def test_released_folder_audits_clean(audited, tmp_path):
    events = fixtures_dir("faces", "events")
    staged = tmp_path / "in"
    staged.mkdir()
    shutil.copy(events / "obama1.jpg", staged / "obama1.jpg")        # obama kept
    shutil.copy(events / "two_people.jpg", staged / "two_people.jpg")  # biden blurred on website
    ws = tmp_path / "ws"
    shutil.copytree(audited.ws, ws)
    r = run_pipeline("--workspace", ws, "process", staged, "--json")
    assert r.returncode == 0, r.stderr
    assert {rec["status"] for rec in json_lines(r.stdout)} == {"released"}
    released = ws / "approved" / "website"
    assert len(list(released.glob("*.jpg"))) == 2
    r = run_pipeline("--workspace", ws, "audit", released, "--channel", "website", "--format", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    recs = json_lines(r.stdout)
    assert len([x for x in recs if x["checked"]]) == 2
    assert all(x["ok"] and not x["findings"] for x in recs)
    # obama is still there, recognised and fine; biden's blurred face is not a face any more
    assert sorted(f["person"] for x in recs for f in x["faces"]) == ["obama", "obama"]


# --------------------------------------------------------------------------- units: no fixtures needed

def test_opens_nothing_for_writing_and_follows_no_link(workspace, tmp_path, monkeypatch):
    """Every open of the audit is read-only; pipes are never opened; links are never followed."""
    from pipeline.audit.run import Auditor

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("Barack Obama\n")
    tree = tmp_path / "tree"
    (tree / ".hidden" / "deeper").mkdir(parents=True)
    (tree / ".hidden" / "deeper" / "minutes.txt").write_text("nothing to see\n")
    (tree / "blob.bin").write_bytes(os.urandom(5000))
    os.mkfifo(tree / "pipe")
    os.symlink(outside / "secret.txt", tree / "link.txt")
    os.symlink(outside, tree / "linked folder")
    opened = []
    real_open = os.open

    def spy(path, flags, *args, **kwargs):
        # the gate opens each name relative to its folder (dir_fd): those opens are in the tree too
        shown = str(path) if kwargs.get("dir_fd") is None else str(tree / "<in tree>" / str(path))
        opened.append((shown, flags))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    from pipeline.workspace import open_workspace

    ws = open_workspace(workspace)
    try:
        reports = {str(Path(r.path).relative_to(tree)): r for r in Auditor(ws).run([str(tree)])}
    finally:
        ws.close()
    assert set(reports) == {".hidden/deeper/minutes.txt", "blob.bin", "pipe", "link.txt", "linked folder"}
    in_tree = [(p, f) for p, f in opened if p.startswith(str(tree))]
    assert in_tree, "the spy saw the audit's opens"
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    assert all(f & writing == 0 and f & os.O_NOFOLLOW for _, f in in_tree)
    assert not [p for p, _ in opened if p.startswith(str(outside))]
    assert not [p for p, _ in in_tree if p.endswith(("pipe", "link.txt", "linked folder"))]
    # issue 16: what the audit did not check is never "ok": a not_checked finding with the reason
    assert "not a regular file" in reports["pipe"].error
    assert "not followed" in reports["link.txt"].error and "not followed" in reports["linked folder"].error
    assert {f["kind"] for f in reports["link.txt"].findings} == {"not_checked"}  # the linked file was never read


def _register_ctx(unknown="blur"):
    from datetime import date

    from consent.matching import Gallery, Tolerances
    from consent.register import ChannelConsent, Person
    from processors.names import NamedPerson

    def person(pid, given, family, consents, *, never=False, expires=None):
        return Person(pid, given, family, "Y4", "pupil", expires, never, False,
                      {c: ChannelConsent(s) for c, s in consents.items()})

    people = {
        "P1": person("P1", "Amelia", "Hart", {"website": "granted", "social": "refused"}),
        "P2": person("P2", "Zoë", "Brontë", {"website": "granted", "social": "granted"}, never=True),
        "P3": person("P3", "Sam", "Okafor", {"website": "withdrawn", "social": "granted"},
                     expires=date(2020, 1, 1)),
    }
    refs = np.zeros((3, 128))
    refs[1, 0] = 1.0
    refs[2, 1] = 1.0
    return SimpleNamespace(
        gallery=Gallery(["P1", "P2", "P3"], refs), tolerances=Tolerances(), people=people,
        named=[NamedPerson(p.person_id, p.given_name, p.family_name) for p in people.values()],
        today=lambda: date(2026, 6, 1), ws=SimpleNamespace(config={"faces": {"unknown": unknown}}))


def test_face_findings_follow_the_release_decisions():
    from pipeline.audit.run import face_findings as decide
    from pipeline.jobs import encoding_blob

    ctx = _register_ctx(unknown="review")
    near = np.zeros(128)
    near[5] = 0.3                          # 0.3 from P1: identified
    maybe = np.zeros(128)
    maybe[0], maybe[5] = 0.5, 0.4          # 0.64 from P1, 0.64 from P2 …
    maybe_p2 = np.zeros(128)
    maybe_p2[0], maybe_p2[5] = 1.0, 0.55   # 0.55 from P2 (never publish): uncertain
    p3 = np.zeros(128)
    p3[1] = 1.0                            # P3 exactly: identified, expired everywhere / withdrawn on website
    faces = [{"box": [10, 50, 50, 10], "encoding": encoding_blob(e)} for e in (near, maybe, maybe_p2, p3)]
    faces.append({"box": [0, 5, 5, 0], "encoding": None})   # too small to recognise
    records, findings = decide(faces, ctx, ["website", "social"])
    got = {(f["face"], f["channel"]): (f["kind"], f["person"]) for f in findings}
    assert got == {
        (0, "social"): ("face_refused", "P1"),
        (1, "website"): ("face_unknown", None), (1, "social"): ("face_unknown", None),
        (2, "website"): ("face_never_publish", "P2"), (2, "social"): ("face_never_publish", "P2"),
        (3, "website"): ("face_withdrawn", "P3"), (3, "social"): ("face_expired", "P3"),
        (4, "website"): ("face_unknown", None), (4, "social"): ("face_unknown", None),
    }
    assert records[4]["too_small"] is True and records[0]["name"] == "Amelia Hart"
    # an uncertain face of someone who may be published is face_uncertain, with the candidate named
    ctx.people["P2"] = ctx.people["P2"].__class__(**{**ctx.people["P2"].__dict__, "never_publish": False})
    _, findings = decide(faces[2:3], ctx, ["website"])
    assert [(f["kind"], f["person"], f["name"]) for f in findings] == [("face_uncertain", "P2", "Zoë Brontë")]


@pytest.mark.parametrize("rel, person, where", [
    ("Amelia Hart.jpg", "P1", "file name"),
    ("2019/amelia_hart-sports_day.JPG", "P1", "file name"),
    ("AmeliaHart.png", "P1", "file name"),
    ("gallery/Amelia%20Hart.jpg", "P1", "file name"),
    ("Hart, Amelia (Y4).jpg", "P1", "file name"),
    ("Zoe Bronte/IMG_0042.jpg", "P2", "folder name"),
    ("IMG_0042.jpg", None, None),
    ("Amelia's drawing.jpg", None, None),
])
def test_full_names_in_paths(rel, person, where):
    from pipeline.audit.run import filename_texts, name_findings

    found = name_findings("full_name_in_filename", filename_texts(rel), _register_ctx(), ["website"])
    assert [(f["person"], f["source"]) for f in found] == ([(person, where)] if person else [])


def test_parallel_bounded_ordered_and_each_content_analysed_once(workspace, tmp_path):
    """Small photos, some duplicated: results come back in walk order, at most a few files are in
    flight, duplicates are analysed once, and a second audit analyses nothing."""
    from pipeline.audit.run import Auditor
    from pipeline.workspace import open_workspace

    rng = np.random.default_rng(7)
    tree = tmp_path / "many"
    names = []
    for i in range(18):
        folder = tree / f"d{i % 3}" / f"e{i % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"p{i:02d}.png")
        names.append(str((folder / f"p{i:02d}.png").relative_to(tree)))
    for i in range(6):   # six copies of one photo
        shutil.copy(tree / names[0], tree / f"copy{i}.png")
        names.append(f"copy{i}.png")
    ws = open_workspace(workspace)
    try:
        auditor = Auditor(ws, workers=2)
        order, biggest = [], 0
        for report in auditor.run([str(tree)]):
            biggest = max(biggest, len(auditor._window))
            order.append(str(Path(report.path).relative_to(tree)))
            assert report.checked and report.ok, report.error
        assert order == sorted(order, key=lambda p: Path(p).parts) and sorted(order) == sorted(names)
        assert biggest <= auditor.window_size
        assert auditor.analysed == 18
        again = Auditor(ws, workers=2)
        assert all(r.from_cache for r in again.run([str(tree)]))
        assert again.analysed == 0
        rows = ws.db.execute("SELECT count(*) FROM audit_cache").fetchone()[0]
        assert rows == 18
    finally:
        ws.close()


def test_workspace_inside_the_audited_folder_is_refused(workspace, cli):
    r = cli("audit", workspace.parent, workspace=workspace)
    assert r.exit_code == 2 and "inside" in r.output and "Traceback" not in r.output


def test_large_camera_photo_is_decoded_small_and_boxes_are_in_its_own_coordinates(audited, tmp_path):
    """A 20-megapixel JPEG is decoded DCT-scaled (as the release path does); faces are still found,
    recognised, and reported where they are in the full picture."""
    events = fixtures_dir("faces", "events")
    archive = tmp_path / "archive"
    archive.mkdir()
    small = Image.open(events / "obama1.jpg").convert("RGB")
    small.save(archive / "small.jpg", quality=95)
    small.resize((small.width * 4, small.height * 4), Image.Resampling.LANCZOS).save(archive / "large.jpg", quality=95)
    ws = tmp_path / "ws"
    shutil.copytree(audited.ws, ws)
    r = run_pipeline("--workspace", ws, "audit", archive, "--format", "json")
    recs = {Path(x["path"]).name: x for x in json_lines(r.stdout)}
    assert [f["person"] for f in recs["large.jpg"]["faces"]] == ["obama"] == [f["person"] for f in recs["small.jpg"]["faces"]]
    (t, rt, b, lt), = [f["box"] for f in recs["small.jpg"]["faces"]]
    (T, RT, B, LT), = [f["box"] for f in recs["large.jpg"]["faces"]]
    for small_v, large_v, side in ((t, T, b - t), (rt, RT, rt - lt), (b, B, b - t), (lt, LT, rt - lt)):
        assert abs(large_v - 4 * small_v) <= 4 * 0.1 * side, (recs["small.jpg"]["faces"], recs["large.jpg"]["faces"])
