"""Issue 15's bar, replayed: a workspace enrols, processes, audits, then forgets a person; the database
file, its WAL and every workspace file are scanned for that person's face templates (by distance, as
float64 anywhere in the bytes, base64 in text, JSON number lists, and faces an independent recogniser
finds in every image) and for their name (any case, several encodings). Then the original register is
imported again (they stay forgotten), a pupil without biometric consent is refused at enrolment, and a
kept original swapped through a hard link is refused at re-render and at release.
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import fixtures_dir, import_face_recognition, json_lines
from tests.review_helpers import invoke, set_config

HEADER = "person_id,given_name,family_name,group,role,website,social,newsletter,press,expires,never_publish,biometric"
REGISTER = [
    "P001,Barack,Obama,Y6,pupil,yes,yes,yes,yes,,no,yes",
    "P002,Joe,Biden,Y6,pupil,yes,no,yes,no,,no,yes",
    "P003,Alex,Lacamoire,Y6,pupil,no,no,no,no,,no,yes",
    "P004,Kit,Harington,Y6,pupil,yes,yes,yes,yes,,no,yes",
    "P005,Rose,Leslie,Y6,pupil,yes,yes,yes,yes,,no,yes",
]
ENROL = {"P001": "obama", "P002": "biden", "P003": "alex_lacamoire", "P004": "kit_harington", "P005": "rose_leslie"}
FORGET = "P001"
NAMES = ("barack obama", "obama barack", "obama, barack", "barack", "obama")
RADIUS = 0.6


def write_register(path: Path, rows=REGISTER) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def with_description(src: Path, dest: Path, text: str) -> Path:
    """A copy of a fixture photo whose EXIF ImageDescription (and Artist) carry ``text``."""
    with Image.open(src) as im:
        exif = im.getexif()
        exif[270] = text
        exif[315] = text
        im.save(dest, exif=exif.tobytes(), quality=92)
    return dest


def reference_encodings(root: Path, person: str) -> np.ndarray:
    conn = sqlite3.connect(root / "pipeline.db")
    rows = conn.execute("SELECT encoding FROM reference_encodings WHERE person_id=?", (person,)).fetchall()
    conn.close()
    return np.stack([np.frombuffer(r[0], dtype="<f8") for r in rows])


# ---------------------------------------------------------------- scanners (independent of the product)

def float_windows_near(data: bytes, refs: np.ndarray, radius: float = RADIUS) -> int:
    """How many 128-number float64 (and float32) runs anywhere in ``data`` lie within ``radius`` of a reference."""
    found = 0
    for dtype, size in (("<f8", 8), ("<f4", 4)):
        for phase in range(size):
            usable = (len(data) - phase) // size
            if usable < 128:
                continue
            with np.errstate(all="ignore"):
                arr = np.frombuffer(data, dtype=dtype, count=usable, offset=phase).astype(np.float64)
            windows = np.lib.stride_tricks.sliding_window_view(arr, 128)
            # a face descriptor is small numbers: cheap screen before the distance
            ok = np.isfinite(windows).all(axis=1) & (np.abs(windows).max(axis=1) < 1.0)
            cand = windows[ok]
            for start in range(0, len(cand), 4096):
                block = cand[start:start + 4096]
                d = np.linalg.norm(block[:, None, :] - refs[None, :, :], axis=2).min(axis=1)
                found += int((d <= radius).sum())
    return found


B64 = re.compile(rb"[A-Za-z0-9+/]{600,}={0,2}")
NUMS = re.compile(r"\[(\s*-?\d+(?:\.\d+)?(?:[eE]-?\d+)?\s*(?:,\s*-?\d+(?:\.\d+)?(?:[eE]-?\d+)?\s*){127,})\]")


def templates_in_bytes(data: bytes, refs: np.ndarray) -> int:
    """Templates in raw bytes, in base64 text inside them, and as JSON lists of numbers."""
    n = float_windows_near(data, refs)
    for m in B64.finditer(data):
        try:
            n += float_windows_near(base64.b64decode(m.group(0) + b"=" * (-len(m.group(0)) % 4)), refs)
        except ValueError:
            pass
    text = data.decode("utf-8", errors="ignore")
    for m in NUMS.finditer(text):
        values = np.array([float(v) for v in m.group(1).split(",")])
        for i in range(len(values) - 127):
            if np.min(np.linalg.norm(refs - values[i:i + 128], axis=1)) <= RADIUS:
                n += 1
    return n


def name_hits(data: bytes, names=NAMES) -> list[str]:
    hits = []
    for codec in ("utf-8", "utf-16-le", "utf-16-be", "latin-1"):
        text = data.decode(codec, errors="ignore").casefold()
        hits += [f"{n} ({codec})" for n in names if n in text]
    return hits


def db_values(path: Path):
    """Every BLOB and TEXT value of every table (read through SQLite)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, (bytes, str)):
                        yield table, value
    finally:
        conn.close()


def faces_in_images(root: Path, refs: np.ndarray) -> list[str]:
    """Images in the workspace in which face_recognition (not our code) finds a face of the person."""
    import hashlib

    fr = import_face_recognition()
    out, seen = [], set()
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in (".jpg", ".jpeg", ".png", ".webp", ".heic"):
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest in seen:  # the same bytes on several channels: looked at once
            continue
        seen.add(digest)
        try:
            with Image.open(path) as im:
                rgb = np.asarray(im.convert("RGB"))
        except Exception:
            continue
        boxes = fr.face_locations(rgb, number_of_times_to_upsample=1)
        for enc in fr.face_encodings(rgb, boxes):
            if np.min(np.linalg.norm(refs - enc, axis=1)) <= RADIUS:
                out.append(str(path.relative_to(root)))
    return out


# ---------------------------------------------------------------- the scenario

@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    """enrol, process (one-shot and inbox), audit, then forget P001; returns paths and the references."""
    events = fixtures_dir("faces", "events")
    enrol_src = fixtures_dir("faces", "enrol")
    base = tmp_path_factory.mktemp("erasure")
    root = base / "ws"
    invoke(base, "init", root)
    set_config(root, "faces", "unknown", '"review"')  # the third person of obama_and_biden.jpg: held, with preview
    invoke(root, "consent", "import", write_register(base / "register.csv"), expect=0)
    enrol = base / "enrol"
    for pid, folder in ENROL.items():
        shutil.copytree(enrol_src / folder, enrol / pid)
    invoke(root, "consent", "enrol", enrol, expect=0)
    refs = reference_encodings(root, FORGET)
    assert len(refs) >= 1

    photos = base / "photos"
    photos.mkdir()
    with_description(events / "two_people.jpg", photos / "Barack Obama and Joe Biden.jpg",
                     "Barack Obama and Joe Biden at sports day")
    shutil.copy(events / "obama1.jpg", photos / "obama1.jpg")
    (photos / "obama1.txt").write_text("OBAMA, Barack reading in the library", encoding="utf-8")
    shutil.copy(events / "obama_and_biden.jpg", photos / "fair.jpg")
    r = invoke(root, "process", photos, "--json")
    records = {Path(x["source"]).name: x for x in json_lines(r.stdout)}
    assert records["Barack Obama and Joe Biden.jpg"]["status"] == "released"
    assert records["obama1.jpg"]["status"] == "released"
    assert records["fair.jpg"]["status"] == "review"
    # `process` given a file in the inbox (a duplicate of obama1.jpg here)
    shutil.copy(events / "obama1.jpg", root / "inbox" / "Obama at the fair.jpg")
    invoke(root, "process", root / "inbox" / "Obama at the fair.jpg")
    # the inbox path (watcher, move mode): a hard-linked drop
    outside = base / "outside"
    outside.mkdir()
    shutil.copy(events / "obama1.jpg", outside / "barack_obama_sports.jpg")
    with_description(outside / "barack_obama_sports.jpg", outside / "barack_obama_sports.jpg", "Barack Obama")
    os.link(outside / "barack_obama_sports.jpg", root / "inbox" / "barack_obama_sports.jpg")
    # no face in the workspace yet with this content? it is a different file (new EXIF): processed
    invoke(root, "watch", "--once")

    archive = base / "archive"
    archive.mkdir()
    with_description(events / "obama1.jpg", archive / "Barack-Obama-assembly.jpg", "Barack OBAMA at assembly")
    shutil.copy(events / "kit_with_rose.jpg", archive / "kit_with_rose.jpg")
    invoke(root, "audit", archive, "--format", "json", "--output", base / "audit.json", expect=1)
    (root / "reports").mkdir()
    invoke(root, "audit", archive, "--format", "html", "--output", root / "reports" / "audit.html", expect=1)
    assert "Barack Obama" in (root / "reports" / "audit.html").read_text(encoding="utf-8")
    before = {"audit_rows": sqlite3.connect(root / "pipeline.db").execute("SELECT COUNT(*) FROM audit_cache").fetchone()[0]}

    r = invoke(root, "consent", "forget", FORGET, "--yes", expect=0)
    return {"root": root, "base": base, "refs": refs, "forget_output": r.output, "before": before,
            "outside": outside}


def test_scanners_find_what_was_there_before(tmp_path):
    """The scanners are real: they find a template and the name where they are."""
    refs = np.random.default_rng(1).normal(0, 0.1, (2, 128))
    blob = b"xx" + refs[0].astype("<f8").tobytes() + b"yy"
    assert float_windows_near(blob, refs) >= 1
    assert templates_in_bytes(b'{"e":"' + base64.b64encode(blob) + b'"}', refs) >= 1
    assert templates_in_bytes(json.dumps(refs[1].tolist()).encode(), refs) >= 1
    assert name_hits("Zoë BARACK obama".encode("utf-16-le")) and not name_hits(b"nothing here")


def test_forget_leaves_no_template_in_the_database_file_or_wal(scenario):
    root, refs = scenario["root"], scenario["refs"]
    db = root / "pipeline.db"
    for path in (db, Path(str(db) + "-wal")):
        if path.exists():
            assert templates_in_bytes(path.read_bytes(), refs) == 0, path
    for table, value in db_values(db):
        data = value if isinstance(value, bytes) else value.encode("utf-8")
        assert templates_in_bytes(data, refs) == 0, table
    assert "Erased:" in scenario["forget_output"]


def test_forget_leaves_no_name_anywhere(scenario):
    root = scenario["root"]
    hits = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        found = name_hits(path.read_bytes())
        name_in_path = [n for n in NAMES if n in str(path.relative_to(root)).casefold()]
        if found or name_in_path:
            hits[str(path.relative_to(root))] = found + name_in_path
    assert hits == {}
    for table, value in db_values(root / "pipeline.db"):
        if isinstance(value, str):
            assert not name_hits(value.encode("utf-8")), (table, value)


def test_forget_leaves_no_face_of_them_in_any_image(scenario):
    assert faces_in_images(scenario["root"], scenario["refs"]) == []


def test_forget_keeps_the_other_people_and_the_workspace_working(scenario):
    root = scenario["root"]
    conn = sqlite3.connect(root / "pipeline.db")
    conn.row_factory = sqlite3.Row
    # biden is still recognised, his stored template kept where it is not near the forgotten person
    assert conn.execute("SELECT COUNT(*) FROM reference_encodings WHERE person_id='P002'").fetchone()[0] >= 1
    assert conn.execute("SELECT COUNT(*) FROM faces WHERE person_id='P001' OR confirmed_person='P001'"
                        " OR candidates LIKE '%P001%'").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM audit_cache").fetchone()[0] < scenario["before"]["audit_rows"]
    # every kept original still matches the SHA-256 the job records for it
    import hashlib

    for job in conn.execute("SELECT * FROM jobs WHERE original_path LIKE 'originals/%'"):
        data = (root / job["original_path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == (job["original_sha256"] or job["sha256"])
    conn.close()
    # the hard-linked drop: the outside file is untouched (same mode, not our inode)
    outside = scenario["outside"] / "barack_obama_sports.jpg"
    assert outside.exists() and oct(outside.stat().st_mode & 0o777) != oct(0o600)
    assert outside.stat().st_nlink == 1
    # the review queue and consent list still work
    assert invoke(root, "review", "list", "--json", expect=0).stdout
    people = {p["person_id"]: p for p in json.loads(invoke(root, "consent", "list", "--json", expect=0).stdout)}
    assert people["P001"]["forgotten"] and people["P001"]["given_name"] is None


def test_reimport_keeps_them_forgotten_until_restored(scenario):
    root, base = scenario["root"], scenario["base"]
    r = invoke(root, "consent", "import", base / "register.csv", "--json", expect=0)
    out = json.loads(r.stdout)
    assert [s["person_id"] for s in out["skipped_erased"]] == ["P001"] and out["restored"] == []
    text = invoke(root, "consent", "import", base / "register.csv", expect=0).output
    assert re.search(r"Skipped P001: erased on \d{4}-\d\d-\d\d", text)
    show = json.loads(invoke(root, "consent", "show", "P001", "--json", expect=0).stdout)
    assert show["forgotten"] and show["given_name"] is None
    assert all(c["effective"] == "withdrawn" for c in show["consents"].values())
    for table, value in db_values(root / "pipeline.db"):
        if isinstance(value, str):
            assert not name_hits(value.encode("utf-8")), (table, value)
    # enrolling them is refused while forgotten
    again = base / "enrol_again" / "P001"
    again.mkdir(parents=True, exist_ok=True)
    shutil.copy(next((base / "enrol" / "P001").iterdir()), again / "ref.jpg")
    assert "has been forgotten" in invoke(root, "consent", "enrol", again.parent, expect=1).output


def test_restore_is_explicit_and_recorded(scenario, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(scenario["root"], root)
    r = invoke(root, "consent", "restore", "P001", expect=2)
    assert "--reason" in r.output
    invoke(root, "consent", "restore", "P001", "--reason", "re-joined in September, new form", expect=0)
    show = json.loads(invoke(root, "consent", "show", "P001", "--json", expect=0).stdout)
    assert not show["forgotten"] and not show["biometric"]
    assert all(c["effective"] == "refused" for c in show["consents"].values())
    assert any(h["field"] == "forgotten" and h["reason"] == "re-joined in September, new form" for h in show["history"])
    out = json.loads(invoke(root, "consent", "import", scenario["base"] / "register.csv", "--json", expect=0).stdout)
    assert out["skipped_erased"] == []
    assert json.loads(invoke(root, "consent", "show", "P001", "--json").stdout)["given_name"] == "Barack"


# ---------------------------------------------------------------- biometric consent

def test_enrolling_a_pupil_without_biometric_consent_is_refused(scenario, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(scenario["root"], root)
    rows = [*REGISTER[1:], "P009,Sam,Doe,Y3,pupil,yes,yes,yes,yes,,no,no", "P010,Lee,Roe,Y3,pupil,yes,no,no,no,,no,"]
    invoke(root, "consent", "import", write_register(tmp_path / "r.csv", rows), expect=0)
    photos = tmp_path / "refs"
    photos.mkdir()
    shutil.copy(next((scenario["base"] / "enrol" / "P004").iterdir()), photos / "P009.jpg")
    shutil.copy(next((scenario["base"] / "enrol" / "P005").iterdir()), photos / "P010.jpg")
    r = invoke(root, "consent", "enrol", photos, "--json", expect=1)
    out = json.loads(r.stdout)
    assert out["enrolled"] == [] and {x["file"] for x in out["refused"]} == {"P009.jpg", "P010.jpg"}
    assert all("no biometric consent" in x["reason"] for x in out["refused"])
    conn = sqlite3.connect(root / "pipeline.db")
    assert conn.execute("SELECT COUNT(*) FROM reference_encodings WHERE person_id IN ('P009','P010')").fetchone()[0] == 0
    conn.close()
    show = invoke(root, "consent", "show", "P009", expect=0).output
    assert "never recognised" in show and "always blurred as unknown" in show
    listed = invoke(root, "consent", "list", expect=0).output
    assert "never recognised" in listed and "WARNING: P009 has consent" in listed


def test_biometric_no_erases_reference_photos_at_once(scenario, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(scenario["root"], root)
    refs = reference_encodings(root, "P004")
    r = invoke(root, "consent", "set", "P004", "--biometric", "no", "--reason", "parent objected", expect=0)
    assert "reference photo" in r.output and "erased" in r.output
    db = root / "pipeline.db"
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM reference_encodings WHERE person_id='P004'").fetchone()[0] == 0
    conn.close()
    wal = Path(str(db) + "-wal")
    leftover = [s for s in (db.read_bytes(), wal.read_bytes() if wal.exists() else b"")
                if any(float_windows_near(s, refs[i:i + 1], 1e-9) for i in range(len(refs)))]
    assert leftover == []
    # never identified now: the fixture photo of kit is released with his face redacted (unknown -> review here)
    photo = tmp_path / "kit.jpg"
    shutil.copy(fixtures_dir("faces", "events") / "johnsnow_test1.jpg", photo)
    rec = json_lines(invoke(root, "process", photo, "--json").stdout)[0]
    assert rec["faces"] and all(f["person"] != "P004" and f["match"] != "identified" for f in rec["faces"])


# ---------------------------------------------------------------- originals: private, verified copies

def _live_outputs(root: Path, job_id: int) -> list[str]:
    conn = sqlite3.connect(root / "pipeline.db")
    rows = [r[0] for r in conn.execute("SELECT path FROM outputs WHERE job_id=? AND state='live'", (job_id,))]
    conn.close()
    return rows


def test_a_hard_link_swap_of_an_original_is_refused_at_rerender_and_release(scenario, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(scenario["root"], root)
    conn = sqlite3.connect(root / "pipeline.db")
    conn.row_factory = sqlite3.Row
    job = conn.execute("SELECT j.* FROM jobs j JOIN faces f ON f.job_id=j.id WHERE f.person_id='P002'"
                       " AND j.status='released' ORDER BY j.id").fetchone()
    conn.close()
    assert job is not None and _live_outputs(root, job["id"])
    before = {p: (root / p).read_bytes() for p in _live_outputs(root, job["id"])}
    # someone hard-links the kept original from outside and overwrites it there with another photo
    outside = tmp_path / "outside.jpg"
    os.link(root / job["original_path"], outside)
    with open(outside, "r+b") as fh:
        fh.truncate(0)
        fh.write((fixtures_dir("faces", "groups") / "bald_guys.jpg").read_bytes())
    r = invoke(root, "consent", "set", "P002", "--channel", "website", "--status", "withdrawn", "--json", expect=0)
    prop = json.loads(r.stdout)["propagation"]
    assert any("changed" in p for p in prop["problems"])
    # nothing released from the changed bytes: every copy taken down, the photo held with the reason
    assert _live_outputs(root, job["id"]) == []
    assert not any((root / p).exists() for p in before)
    held = {i["id"]: i for i in json.loads(invoke(root, "review", "list", "--json").stdout)}
    assert job["id"] in held and "changed" in held[job["id"]]["reason"]
    r = invoke(root, "review", "decide", job["id"], "--release", expect=2)
    assert "was not released" in r.output and "Traceback" not in r.output
    assert _live_outputs(root, job["id"]) == [] and not any((root / p).exists() for p in before)
    conn = sqlite3.connect(root / "pipeline.db")
    events = [json.loads(d) for (d,) in conn.execute("SELECT detail FROM events WHERE kind='original.changed'")]
    conn.close()
    assert {e["during"] for e in events} == {"consent set", "review release"}
    assert all(e["job_id"] == job["id"] and e["expected_sha256"] != e["found_sha256"] for e in events)


def test_a_hard_linked_drop_is_copied_and_the_outside_file_left_alone(scenario, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(scenario["root"], root)
    outside = tmp_path / "staff_share"
    outside.mkdir()
    src = outside / "kit_with_rose.jpg"
    shutil.copy(fixtures_dir("faces", "events") / "kit_with_rose.jpg", src)
    os.chmod(src, 0o644)
    before = src.stat()
    os.link(src, root / "inbox" / "kit_with_rose.jpg")
    invoke(root, "watch", "--once")
    conn = sqlite3.connect(root / "pipeline.db")
    conn.row_factory = sqlite3.Row
    job = conn.execute("SELECT * FROM jobs WHERE source LIKE '%kit_with_rose.jpg' ORDER BY id DESC").fetchone()
    conn.close()
    assert job["status"] == "released"
    kept = root / job["original_path"]
    after = src.stat()
    assert kept.stat().st_ino != after.st_ino and kept.stat().st_nlink == 1
    assert (after.st_mode, after.st_mtime_ns, after.st_ino) == (before.st_mode, before.st_mtime_ns, before.st_ino)
    assert after.st_nlink == 1 and not (root / "inbox" / "kit_with_rose.jpg").exists()
    # overwrite the outside file with another photo, then withdraw kit: the re-render uses our copy
    with open(src, "r+b") as fh:
        fh.truncate(0)
        fh.write((fixtures_dir("faces", "groups") / "bald_guys.jpg").read_bytes())
    invoke(root, "consent", "set", "P004", "--channel", "website", "--status", "withdrawn", expect=0)
    out = [p for p in _live_outputs(root, job["id"]) if "/website/" in p]
    assert out
    with Image.open(root / out[0]) as im:
        assert abs(im.width / im.height - 501 / 700) < 0.01  # kit_with_rose's shape, not bald_guys' (1986x1545)


# ---------------------------------------------------------------- an id that spells the name

@pytest.mark.slow  # ~25 s: a second forget on a second workspace
def test_an_id_that_spells_the_name_becomes_a_pseudonymous_tombstone(tmp_path_factory, tmp_path):
    from tests.review_helpers import fresh_copy, template_workspace, write_register

    root = fresh_copy(template_workspace(tmp_path_factory), tmp_path)  # ids are folder names: obama, biden …
    r = invoke(root, "consent", "forget", "obama", "--yes", expect=0)
    assert "erased-" in r.output
    hits = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        found = name_hits(path.read_bytes(), ("barack", "obama"))
        if found or "obama" in str(path.relative_to(root)).casefold():
            hits[str(path.relative_to(root))] = found
    assert hits == {}
    register = write_register(tmp_path / "register.csv")
    out = json.loads(invoke(root, "consent", "import", register, "--json", expect=0).stdout)
    assert [s["person_id"] for s in out["skipped_erased"]] == ["obama"] and out["added"] == 0
    assert "was forgotten on" in invoke(root, "consent", "show", "obama", expect=2).output
    assert not name_hits((root / "pipeline.db").read_bytes(), ("barack", "obama"))
    invoke(root, "consent", "restore", "obama", "--reason", "came back", expect=0)
    invoke(root, "consent", "import", register, expect=0)
    shown = json.loads(invoke(root, "consent", "show", "obama", "--json", expect=0).stdout)
    assert shown["given_name"] == "Barack" and not shown["forgotten"]
