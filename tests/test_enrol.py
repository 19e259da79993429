"""Enrolling reference photos with real dlib on the shared fixture portraits."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from consent.enrol import decode_photo, enrol_directory, find_reference_photos
from consent.register import forget_person, load_reference_encodings
from consent.register_import import import_register
from pipeline.workspace import init_workspace
from tests.conftest import fixtures_dir
from tests.register_helpers import HEADER, write_csv

PEOPLE = ["alex_lacamoire", "biden", "kit_harington", "obama", "rose_leslie"]
CHANNELS = ["website", "social", "newsletter", "press"]


def _register(tmp: Path, ids=PEOPLE) -> Path:
    rows = [f"{pid},{pid.split('_')[0].title()},Test,Y6,pupil,yes,no,yes,no,,no,yes" for pid in ids]
    return write_csv(tmp / "register.csv", [HEADER, *rows])


def _new_ws(tmp: Path, ids=PEOPLE):
    ws = init_workspace(tmp / "ws")
    import_register(ws.db, _register(tmp, ids), CHANNELS, actor="dpo")
    return ws


def _encodings(ws) -> dict[str, np.ndarray]:
    return {r["source_name"] + "@" + r["person_id"]: np.frombuffer(r["encoding"], dtype="<f8")
            for r in ws.db.execute("SELECT person_id, source_name, encoding FROM reference_encodings")}


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory):
    """The five fixture people enrolled once (dlib is slow)."""
    enrol_dir = fixtures_dir("faces", "enrol")
    ws = _new_ws(tmp_path_factory.mktemp("enrolled"))
    t0 = time.perf_counter()
    report = enrol_directory(ws.db, enrol_dir, actor="dpo")
    print(f"\nenrolled {len(report.enrolled)} fixture photos in {time.perf_counter() - t0:.2f}s")
    yield ws, report
    ws.close()


def test_every_fixture_photo_gives_one_encoding(enrolled):
    ws, report = enrolled
    assert report.refused == [] and report.already == []
    assert len(report.enrolled) == 9
    rows = ws.db.execute("SELECT person_id, source_name, source_sha256, box, encoding FROM reference_encodings").fetchall()
    assert len(rows) == 9
    assert sorted({r["person_id"] for r in rows}) == PEOPLE
    enrol_dir = fixtures_dir("faces", "enrol")
    for r in rows:
        top, right, bottom, left = json.loads(r["box"])
        with Image.open(enrol_dir / r["person_id"] / r["source_name"]) as im:
            w, h = ImageOps.exif_transpose(im).size
        assert 0 <= top < bottom <= h and 0 <= left < right <= w
        assert min(bottom - top, right - left) >= 60          # portraits: a large face
        enc = np.frombuffer(r["encoding"], dtype="<f8")
        assert enc.shape == (128,) and np.all(np.isfinite(enc)) and 0.5 < np.linalg.norm(enc) < 3
    ids, matrix = load_reference_encodings(ws.db)
    assert len(ids) == 9 and matrix.shape == (9, 128)
    per_person = dict(ws.db.execute(
        "SELECT person_id, json_extract(detail, '$.reference_photos_added') FROM events "
        "WHERE kind='consent.enrol' AND person_id IS NOT NULL"))
    assert per_person == {"alex_lacamoire": 1, "biden": 2, "kit_harington": 2, "obama": 2, "rose_leslie": 2}


def test_same_person_is_closer_than_anyone_else(enrolled):
    ws, _ = enrolled
    ids, matrix = load_reference_encodings(ws.db)
    d = np.linalg.norm(matrix[:, None] - matrix[None], axis=2)
    for i in range(len(ids)):
        for j in range(len(ids)):
            if i == j:
                continue
            if ids[i] == ids[j]:
                assert d[i, j] < 0.5, (ids[i], d[i, j])
            else:
                assert d[i, j] > 0.6, (ids[i], ids[j], d[i, j])


def test_an_independent_recogniser_matches_event_photos_to_the_enrolled_person(enrolled):
    """face_recognition (its own detector and 68-point landmarks) on other photos finds the right person."""
    from tests.conftest import import_face_recognition

    face_recognition = import_face_recognition()

    ws, _ = enrolled
    ids, matrix = load_reference_encodings(ws.db)
    events = fixtures_dir("faces", "events")
    for name, person in (("obama1.jpg", "obama"), ("johnsnow_test1.jpg", "kit_harington"),
                         ("alex_lacamoire1.jpg", "alex_lacamoire")):
        img = face_recognition.load_image_file(str(events / name))
        encs = face_recognition.face_encodings(img)
        assert len(encs) == 1, name
        d = np.linalg.norm(matrix - encs[0], axis=1)
        assert ids[int(np.argmin(d))] == person and d.min() < 0.5, (name, ids[int(np.argmin(d))], d.min())


def test_enrolling_the_same_photos_again_changes_nothing(enrolled):
    ws, _ = enrolled
    before = ws.db.execute("SELECT id, person_id, source_sha256, encoding FROM reference_encodings ORDER BY id").fetchall()
    report = enrol_directory(ws.db, fixtures_dir("faces", "enrol"), actor="dpo")
    assert report.enrolled == [] and report.refused == [] and len(report.already) == 9
    after = ws.db.execute("SELECT id, person_id, source_sha256, encoding FROM reference_encodings ORDER BY id").fetchall()
    assert [tuple(r) for r in after] == [tuple(r) for r in before]


def test_unusable_photos_are_refused_with_a_reason_and_the_rest_enrol(tmp_path):
    enrol_dir = fixtures_dir("faces", "enrol")
    ws = _new_ws(tmp_path)
    photos = tmp_path / "photos"
    (photos / "obama").mkdir(parents=True)
    (photos / "biden").mkdir()
    (photos / "stranger").mkdir()
    Image.new("RGB", (800, 600), (128, 128, 128)).save(photos / "obama" / "blank.jpg")
    a = Image.open(enrol_dir / "obama" / "obama.jpg").convert("RGB")
    b = Image.open(enrol_dir / "biden" / "biden2.jpg").convert("RGB").resize((a.height, a.height))
    both = Image.new("RGB", (a.width + b.width, a.height), (255, 255, 255))
    both.paste(a, (0, 0))
    both.paste(b, (a.width, 0))
    both.save(photos / "biden" / "with_obama.jpg")
    shutil.copy(enrol_dir / "kit_harington" / "john2.jpeg", photos / "stranger" / "who.jpg")
    shutil.copy(enrol_dir / "kit_harington" / "john2.jpeg", photos / "kit_harington_2.jpeg")  # id-prefixed name
    (photos / "obama_broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (photos / "notes.txt").write_text("reference photos, autumn term")
    (photos / ".DS_Store").write_bytes(b"\0\0")

    report = enrol_directory(ws.db, photos, actor="dpo")
    refused = dict(report.refused)
    assert report.enrolled == [("kit_harington_2.jpeg", "kit_harington")]
    assert refused["obama/blank.jpg"] == "no face found — use a clear, front-facing photo"
    assert refused["biden/with_obama.jpg"] == "2 faces found — crop to one person"
    assert "'stranger' is not a person_id" in refused["stranger/who.jpg"]
    assert "cannot be read as a photo" in refused["obama_broken.jpg"]
    assert "not a reference photo type (.txt)" in refused["notes.txt"]
    assert ".DS_Store" not in refused
    assert len(refused) == 5
    rows = ws.db.execute("SELECT person_id, source_name FROM reference_encodings").fetchall()
    assert [tuple(r) for r in rows] == [("kit_harington", "kit_harington_2.jpeg")]
    ws.close()


def test_orientation_size_and_heic_give_the_same_face(tmp_path):
    """An EXIF-rotated copy, a copy larger than the 1,600 px working size and a HEIC copy all enrol, with the box
    in the coordinates of the orientation-corrected original and a descriptor close to the plain photo's."""
    import pillow_heif  # noqa: F401  (registered by consent.enrol)

    upright = ImageOps.exif_transpose(Image.open(fixtures_dir("faces", "enrol") / "obama" / "obama.jpg")).convert("RGB")
    photos = tmp_path / "photos" / "obama"
    photos.mkdir(parents=True)
    upright.save(photos / "plain.jpg", quality=95)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    upright.transpose(Image.Transpose.ROTATE_90).save(photos / "rotated.jpg", quality=95, exif=exif.tobytes())
    upright.resize((upright.width * 2, upright.height * 2), Image.Resampling.LANCZOS).save(photos / "large.jpg", quality=95)
    upright.save(photos / "phone.heic", quality=90)
    assert decode_photo(photos / "rotated.jpg").rgb.shape[:2] == (upright.height, upright.width)
    assert max(decode_photo(photos / "large.jpg").rgb.shape[:2]) == 1600

    ws = _new_ws(tmp_path, ["obama"])
    report = enrol_directory(ws.db, tmp_path / "photos", actor="dpo")
    assert report.refused == [] and len(report.enrolled) == 4
    boxes = {r[0]: np.array(json.loads(r[1]), dtype=float)
             for r in ws.db.execute("SELECT source_name, box FROM reference_encodings")}
    size = boxes["plain.jpg"][2] - boxes["plain.jpg"][0]
    assert np.abs(boxes["rotated.jpg"] - boxes["plain.jpg"]).max() <= 0.1 * size
    assert np.abs(boxes["phone.heic"] - boxes["plain.jpg"]).max() <= 0.1 * size
    assert np.abs(boxes["large.jpg"] - 2 * boxes["plain.jpg"]).max() <= 0.2 * size
    enc = {k.split("@")[0]: v for k, v in _encodings(ws).items()}
    for name in ("rotated.jpg", "large.jpg", "phone.heic"):
        assert np.linalg.norm(enc[name] - enc["plain.jpg"]) < 0.15, name
    ws.close()


def test_forgotten_person_and_a_photo_already_given_for_someone_else_are_refused(tmp_path):
    enrol_dir = fixtures_dir("faces", "enrol")
    ws = _new_ws(tmp_path)
    first = tmp_path / "first"
    (first / "obama").mkdir(parents=True)
    shutil.copy(enrol_dir / "obama" / "obama2.jpg", first / "obama" / "o.jpg")
    assert len(enrol_directory(ws.db, first, actor="dpo").enrolled) == 1
    second = tmp_path / "second"
    (second / "biden").mkdir(parents=True)
    shutil.copy(enrol_dir / "obama" / "obama2.jpg", second / "biden" / "mixed_up.jpg")
    shutil.copy(enrol_dir / "rose_leslie" / "img2.jpg", second / "rose_leslie.jpg")
    forget_person(ws.db, "rose_leslie", actor="dpo")
    report = enrol_directory(ws.db, second, actor="dpo")
    refused = dict(report.refused)
    assert report.enrolled == []
    assert "already given for obama" in refused["biden/mixed_up.jpg"]
    assert "has been forgotten" in refused["rose_leslie.jpg"]
    assert ws.db.execute("SELECT COUNT(*) FROM reference_encodings").fetchone()[0] == 1
    ws.close()


def test_file_names_match_the_longest_person_id(tmp_path):
    ids = {"P1", "P10", "obama"}
    for name in ("P1.jpg", "P1-a.png", "P10_1.jpg", "P10 2.JPG", "p10_3.jpeg", "P10a.jpg", "P100.jpg",
                 "obama.heic", "x.jpg"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "p1").mkdir()
    (tmp_path / "p1" / "any.jpg").write_bytes(b"")
    photos, refused = find_reference_photos(tmp_path, ids)
    assert {p.name: pid for p, pid in photos} == {
        "P1.jpg": "P1", "P1-a.png": "P1", "P10_1.jpg": "P10", "P10 2.JPG": "P10", "p10_3.jpeg": "P10",
        "obama.heic": "obama", "any.jpg": "P1"}
    assert sorted(p.name for p, _ in refused) == ["P100.jpg", "P10a.jpg", "x.jpg"]
