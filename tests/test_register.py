"""The consent register against a real workspace database: import, effective status, set, forget."""
from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from consent.register import (ChannelConsent, Person, RegisterError, forget_person, history, load_people,
                              load_reference_encodings, set_consent)
from consent.register_import import import_register, read_register_csv
from pipeline.workspace import open_workspace
from tests.register_helpers import HEADER, ROWS, all_text_in_db, dump, write_csv

CHANNELS = ["website", "social", "newsletter", "press"]


@pytest.fixture
def ws(workspace):
    w = open_workspace(workspace)
    yield w
    w.close()


@pytest.fixture
def loaded(ws, tmp_path):
    """A workspace with the four-person register imported."""
    import_register(ws.db, write_csv(tmp_path / "register.csv", [HEADER, *ROWS]), CHANNELS, actor="dpo")
    return ws


def _add_encoding(conn, person_id: str, seed: int) -> np.ndarray:
    enc = np.random.default_rng(seed).normal(size=128)
    conn.execute(
        "INSERT INTO reference_encodings(person_id, source_name, source_sha256, box, encoding, created_at) "
        "VALUES (?,?,?,?,?,?)",
        (person_id, f"{person_id}_{seed}.jpg", f"sha{seed}", "[1,2,3,4]", enc.astype("<f8").tobytes(), "now"))
    return enc


# ---------------------------------------------------------------- import: good files

def test_import_creates_people_with_consent(loaded):
    people = load_people(loaded.db)
    assert sorted(people) == ["P001", "P002", "P003", "P004"]
    amelia = people["P001"]
    assert (amelia.given_name, amelia.family_name, amelia.group, amelia.role) == ("Amelia", "Hart", "Y4", "pupil")
    assert amelia.expires == date(2027, 8, 31)
    assert amelia.consents["website"] == ChannelConsent("granted", None)
    assert amelia.consents["social"] == ChannelConsent("refused", None)
    assert people["P003"].role == "pupil"           # empty role = pupil
    assert people["P003"].never_publish is True
    assert people["P004"].role == "staff" and people["P004"].never_publish is False  # empty never_publish = no
    assert not any(p.forgotten for p in people.values())


def test_bom_and_non_ascii_names_round_trip(ws, tmp_path):
    path = write_csv(tmp_path / "register.csv", [HEADER, *ROWS], bom=True)
    import_register(ws.db, path, CHANNELS, actor="dpo")
    people = load_people(ws.db)
    assert (people["P002"].given_name, people["P002"].family_name) == ("Zoë", "Brontë")
    assert (people["P003"].given_name, people["P003"].family_name) == ("Siobhán", "Ó Briain")
    assert (people["P004"].given_name, people["P004"].family_name) == ("Łukasz", "Wójcik")
    assert "\ufeff" not in "".join(people)  # the BOM did not end up in the first person_id column


def test_header_order_case_and_yes_no_spellings_are_free(ws, tmp_path):
    path = write_csv(tmp_path / "r.csv", [
        "Never_Publish, PRESS ,newsletter,social,website,Expires,Role,Group,Family_Name,Given_Name,Person_ID",
        "Y,n,TRUE,False, yes ,,STAFF,Office,Khan,Ayesha,S01",
    ])
    import_register(ws.db, path, CHANNELS, actor="dpo")
    p = load_people(ws.db)["S01"]
    assert {c: p.consents[c].status for c in CHANNELS} == {
        "website": "granted", "social": "refused", "newsletter": "granted", "press": "refused"}
    assert p.never_publish and p.role == "staff" and p.group == "Office"


def test_semicolon_separated_export_is_accepted(ws, tmp_path):
    path = write_csv(tmp_path / "r.csv", [HEADER.replace(",", ";"), ROWS[0].replace(",", ";")])
    import_register(ws.db, path, CHANNELS, actor="dpo")
    assert load_people(ws.db)["P001"].consents["newsletter"].status == "granted"


def test_missing_channel_column_means_refused_and_is_reported(ws, tmp_path):
    path = write_csv(tmp_path / "r.csv", ["person_id,given_name,family_name,website", "P9,Ann,Lee,yes"])
    summary = import_register(ws.db, path, CHANNELS, actor="dpo")
    p = load_people(ws.db)["P9"]
    assert p.consents["website"].status == "granted"
    assert all(p.consents[c].status == "refused" for c in ("social", "newsletter", "press"))
    assert any("'press' column" in n and "refused" in n for n in summary.notes)


def test_blank_rows_are_skipped_but_counted_in_row_numbers(ws, tmp_path):
    path = write_csv(tmp_path / "r.csv", [HEADER, ROWS[0], ",,,,,,,,,,", "", "P005,Ann,Lee,Y1,pupil,maybe,no,no,no,,no"])
    with pytest.raises(RegisterError, match=r"row 5, column website: 'maybe'"):
        import_register(ws.db, path, CHANNELS, actor="dpo")


# ---------------------------------------------------------------- import: bad files change nothing

BAD_FILES = {
    "unknown channel value": ([HEADER, ROWS[0], "P005,Ann,Lee,Y1,pupil,yes,maybe,no,no,,no"],
                              r"row 3, column social: 'maybe' is not yes or no"),
    "bad date": ([HEADER, ROWS[0], ROWS[1], "P005,Ann,Lee,Y1,pupil,yes,no,no,no,31/08/2027,no"],
                 r"row 4, column expires: '31/08/2027' is not a date written as YYYY-MM-DD"),
    "impossible date": ([HEADER, "P005,Ann,Lee,Y1,pupil,yes,no,no,no,2027-02-30,no"], r"row 2, column expires"),
    "duplicate id": ([HEADER, ROWS[0], ROWS[1], ROWS[0].replace("Amelia", "Amy")],
                     r"row 4: person_id 'P001' is a duplicate \(already on row 2\)"),
    "ids differing only by case": ([HEADER, ROWS[0], ROWS[1].replace("P002", "p001")],
                                   r"row 3: person_id 'p001' differs from 'P001'"),
    "missing given name": ([HEADER, ROWS[0], "P005,,Lee,Y1,pupil,yes,no,no,no,,no"], r"row 3: given_name is empty"),
    "missing family name": ([HEADER, "P005,Ann, ,Y1,pupil,yes,no,no,no,,no"], r"row 2: family_name is empty"),
    "missing person id": ([HEADER, ROWS[0], ",Ann,Lee,Y1,pupil,yes,no,no,no,,no"], r"row 3: person_id is empty"),
    "person id with a space": ([HEADER, "P 5,Ann,Lee,Y1,pupil,yes,no,no,no,,no"], r"row 2: person_id 'P 5' may only"),
    "bad role": ([HEADER, "P005,Ann,Lee,Y1,teacher,yes,no,no,no,,no"], r"row 2, column role: 'teacher'"),
    "bad never_publish": ([HEADER, "P005,Ann,Lee,Y1,pupil,yes,no,no,no,,perhaps"], r"row 2, column never_publish"),
    "too many values": ([HEADER, ROWS[0] + ",extra"], r"row 2: has 13 values but the header has 12 columns"),
    "wrong header (unknown column)": ([HEADER.replace("website", "websit"), ROWS[0]],
                                      r"header \(row 1\) is wrong .*unknown column\(s\): websit"),
    "wrong header (missing name column)": ([HEADER.replace("family_name", "surname"), ROWS[0]],
                                           r"missing column\(s\): family_name"),
    "wrong header (repeated column)": ([HEADER + ",press", ROWS[0] + ",no"], r"repeated column\(s\): press"),
    "empty file": ("", r"the file is empty"),
    "only blank lines": ("\r\n\r\n  \r\n", r"the file is empty"),
    "header but no people": ([HEADER], r"has a header but no people"),
    "NUL byte": ([HEADER, ROWS[0] + "\0"], r"row 2, column biometric: contains .* control character"),
    "line break in a name": ([HEADER, ROWS[0].replace("Hart", '"Ha\nrt"')], r"row 2, column family_name: contains"),
    "runaway field": ([HEADER, ROWS[0].replace("Hart", "H" * 200_000)], r"not a readable CSV file"),
    "id differing by case from one in the register": ([HEADER, ROWS[0].replace("P001", "p001")],
                                                      r"row 2: person_id 'p001' differs from 'P001' already"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_is_rejected_whole_and_changes_nothing(loaded, tmp_path, case):
    lines, message = BAD_FILES[case]
    before = dump(loaded.db)
    with pytest.raises(RegisterError, match=message) as info:
        import_register(loaded.db, write_csv(tmp_path / "bad.csv", lines), CHANNELS, actor="dpo")
    assert "bad.csv" in str(info.value)
    assert dump(loaded.db) == before


def test_every_bad_row_is_listed_and_a_good_row_is_not_imported(ws, tmp_path):
    path = write_csv(tmp_path / "bad.csv", [HEADER, ROWS[0], "P005,Ann,Lee,Y1,pupil,yes,maybe,no,no,,no",
                                            ROWS[1], "P006,,Lee,Y1,pupil,yes,no,no,no,2027-13-01,no"])
    with pytest.raises(RegisterError) as info:
        import_register(ws.db, path, CHANNELS, actor="dpo")
    text = str(info.value)
    assert "nothing in the register changed" in text
    assert "row 3, column social" in text and "row 5: given_name is empty" in text and "row 5, column expires" in text
    assert load_people(ws.db) == {}


def test_not_utf8_file_is_rejected_with_how_to_fix(ws, tmp_path):
    path = write_csv(tmp_path / "excel.csv", [HEADER, ROWS[1]], encoding="cp1252")
    with pytest.raises(RegisterError, match="not UTF-8.*CSV UTF-8"):
        import_register(ws.db, path, CHANNELS, actor="dpo")
    assert load_people(ws.db) == {}


def test_missing_file_is_a_plain_error(ws, tmp_path):
    with pytest.raises(RegisterError, match="does not exist"):
        import_register(ws.db, tmp_path / "nope.csv", CHANNELS, actor="dpo")


# ---------------------------------------------------------------- re-import

def test_reimport_updates_records_history_and_keeps_absent_people(loaded, tmp_path):
    rows = [
        "P001,Amelia,Hart-Jones,Y5,pupil,yes,yes,yes,no,2028-08-31,no,yes",  # family name, group, social, expires
        ROWS[1],                                                               # unchanged
        "P003,Siobhán,Ó Briain,Y5,pupil,no,no,no,no,,no,yes",                  # never_publish cleared
        "P010,New,Pupil,Y1,pupil,no,no,no,no,,no,yes",                         # added
    ]                                                                       # P004 absent
    summary = import_register(loaded.db, write_csv(tmp_path / "spring.csv", [HEADER, *rows]), CHANNELS,
                              actor="office")
    assert (sorted(summary.added), sorted(summary.updated), sorted(summary.unchanged)) == (
        ["P010"], ["P001", "P003"], ["P002"])
    assert summary.not_in_file == 1
    assert summary.never_publish_cleared == ["P003"]
    people = load_people(loaded.db)
    assert people["P004"].given_name == "Łukasz" and people["P004"].consents["website"].status == "granted"
    assert people["P001"].family_name == "Hart-Jones" and people["P001"].consents["social"].status == "granted"
    changes = {(h["channel"], h["field"]): (h["old_value"], h["new_value"], h["reason"], h["actor"])
               for h in history(loaded.db, "P001") if h["actor"] == "office"}
    assert changes == {
        (None, "family_name"): ("Hart", "Hart-Jones", "import spring.csv", "office"),
        (None, "group"): ("Y4", "Y5", "import spring.csv", "office"),
        (None, "expires"): ("2027-08-31", "2028-08-31", "import spring.csv", "office"),
        ("social", "status"): ("refused", "granted", "import spring.csv", "office"),
    }
    assert not [h for h in history(loaded.db, "P002") if h["actor"] == "office"]
    kinds = [r[0] for r in loaded.db.execute("SELECT kind FROM events ORDER BY id")]
    assert kinds == ["consent.import", "consent.import"]


def test_reimport_of_same_file_changes_nothing(loaded, tmp_path):
    before = dump(loaded.db)
    summary = import_register(loaded.db, write_csv(tmp_path / "register.csv", [HEADER, *ROWS]), CHANNELS, actor="dpo")
    assert (len(summary.added), len(summary.updated), len(summary.unchanged)) == (0, 0, 4)
    after = dump(loaded.db)
    assert after["people"] == before["people"] and after["consent_history"] == before["consent_history"]


def test_reimport_never_regrants_a_withdrawn_consent(loaded, tmp_path):
    set_consent(loaded.db, "P002", "social", "withdrawn", reason="parent's email", actor="dpo")
    summary = import_register(loaded.db, write_csv(tmp_path / "old.csv", [HEADER, *ROWS]), CHANNELS, actor="office")
    assert summary.kept_withdrawn == [("P002", "social")]
    assert load_people(loaded.db)["P002"].consents["social"].status == "withdrawn"


def test_absent_optional_column_leaves_field_unchanged(loaded, tmp_path):
    path = write_csv(tmp_path / "short.csv", ["person_id,given_name,family_name,website",
                                              "P003,Siobhán,Ó Briain,no"])
    import_register(loaded.db, path, CHANNELS, actor="office")
    p = load_people(loaded.db)["P003"]
    assert p.never_publish is True and p.group == "Y5"


def test_five_thousand_rows_import_in_one_go(ws, tmp_path):
    rows = [f"S{i:05d},Given{i},Family{i},Y{i % 7},pupil,{'yes' if i % 2 else 'no'},yes,no,{'yes' if i % 3 else 'no'},"
            f"{'2030-07-31' if i % 5 == 0 else ''},{'yes' if i % 97 == 0 else 'no'}" for i in range(5000)]
    path = write_csv(tmp_path / "big.csv", [HEADER, *rows])
    t0 = time.perf_counter()
    summary = import_register(ws.db, path, CHANNELS, actor="dpo")
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = import_register(ws.db, path, CHANNELS, actor="dpo")
    second = time.perf_counter() - t0
    t0 = time.perf_counter()
    people = load_people(ws.db)
    load = time.perf_counter() - t0
    print(f"\n5,000-row register: first import {first:.2f}s, re-import {second:.2f}s, load_people {load:.3f}s")
    assert len(summary.added) == 5000 and len(again.unchanged) == 5000
    assert len(people) == 5000
    assert people["S00097"].never_publish and people["S00005"].expires == date(2030, 7, 31)
    assert ws.db.execute("SELECT COUNT(*) FROM consents").fetchone()[0] == 20000


def test_read_register_csv_returns_rows_with_spreadsheet_numbers():
    data = (HEADER + "\n\n" + ROWS[0] + "\n").encode()
    rows, notes = read_register_csv(data, CHANNELS)
    assert [(r.row, r.person_id) for r in rows] == [(3, "P001")] and notes == []


# ---------------------------------------------------------------- effective status

def _person(expires=None, consents=None, forgotten=False):
    return Person("X", "A", "B", "", "pupil", expires, False, forgotten, consents or {})


def test_expiry_date_is_the_last_valid_day():
    p = _person(date(2027, 8, 31), {"website": ChannelConsent("granted")})
    assert p.effective_status("website", date(2027, 8, 31)) == "granted"
    assert p.effective_status("website", date(2027, 9, 1)) == "expired"


def test_channel_expiry_applies_to_that_channel_only():
    p = _person(None, {"website": ChannelConsent("granted", date(2026, 1, 1)), "social": ChannelConsent("granted")})
    assert p.effective_status("website", date(2026, 1, 2)) == "expired"
    assert p.effective_status("social", date(2026, 1, 2)) == "granted"


def test_missing_refused_withdrawn_and_forgotten():
    p = _person(None, {"website": ChannelConsent("refused"), "social": ChannelConsent("withdrawn", date(2020, 1, 1))})
    today = date(2026, 6, 1)
    assert p.effective_status("website", today) == "refused"
    assert p.effective_status("social", today) == "withdrawn"
    assert p.effective_status("press", today) == "refused"
    assert _person(None, {"website": ChannelConsent("granted")}, forgotten=True).effective_status("website", today) == "withdrawn"


# ---------------------------------------------------------------- set_consent

def test_set_consent_records_history_and_event(loaded):
    p = set_consent(loaded.db, "P001", "social", "granted", expires=date(2026, 12, 31), reason="form returned",
                    actor="dpo", channels=CHANNELS)
    assert p.consents["social"] == ChannelConsent("granted", date(2026, 12, 31))
    assert p.effective_status("social", date(2027, 1, 1)) == "expired"
    rows = [(h["channel"], h["field"], h["old_value"], h["new_value"], h["reason"]) for h in history(loaded.db, "P001")
            if h["reason"] == "form returned"]
    assert rows == [("social", "status", "refused", "granted", "form returned"),
                    ("social", "expires", None, "2026-12-31", "form returned")]
    ev = loaded.db.execute("SELECT kind, person_id, actor FROM events ORDER BY id DESC LIMIT 1").fetchone()
    assert tuple(ev) == ("consent.set", "P001", "dpo")
    # expiry is kept when not given, removed on request
    p = set_consent(loaded.db, "P001", "social", "withdrawn", reason="phone call", actor="dpo")
    assert p.consents["social"] == ChannelConsent("withdrawn", date(2026, 12, 31))
    p = set_consent(loaded.db, "P001", "social", "granted", clear_expires=True, reason="new form", actor="dpo")
    assert p.consents["social"] == ChannelConsent("granted", None)


@pytest.mark.parametrize("args, message", [
    (("P999", "website", "granted"), "no person 'P999'"),
    (("P001", "tiktok", "granted"), "'tiktok' is not a configured channel"),
    (("P001", "website", "maybe"), "'maybe' is not a consent status"),
])
def test_set_consent_refuses_bad_input_without_change(loaded, args, message):
    before = dump(loaded.db)
    with pytest.raises(RegisterError, match=message):
        set_consent(loaded.db, *args, reason="x", actor="dpo", channels=CHANNELS)
    assert dump(loaded.db) == before


# ---------------------------------------------------------------- reference encodings

def test_load_reference_encodings_is_a_float64_matrix(loaded):
    a = _add_encoding(loaded.db, "P001", 1)
    b = _add_encoding(loaded.db, "P002", 2)
    c = _add_encoding(loaded.db, "P001", 3)
    ids, matrix = load_reference_encodings(loaded.db)
    assert ids == ["P001", "P002", "P001"]
    assert matrix.shape == (3, 128) and matrix.dtype == np.float64
    assert np.array_equal(matrix, np.stack([a, b, c]))


def test_load_reference_encodings_empty(ws):
    ids, matrix = load_reference_encodings(ws.db)
    assert ids == [] and matrix.shape == (0, 128)


# ---------------------------------------------------------------- forget

def test_forget_erases_name_and_encodings_everywhere(loaded, tmp_path):
    db = loaded.db
    enc = _add_encoding(db, "P002", 7)
    _add_encoding(db, "P001", 8)
    # a name change and a reason mentioning the child, both must disappear
    import_register(db, write_csv(tmp_path / "r2.csv", [HEADER, ROWS[1].replace("Brontë", "Brontë-Smith")]),
                    CHANNELS, actor="office")
    set_consent(db, "P002", "press", "withdrawn", reason="Zoë Brontë-Smith's father asked", actor="dpo")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the name is now in the main database file
    assert "Brontë".encode() in Path(loaded.db_path).read_bytes()
    db.execute("PRAGMA secure_delete = OFF")  # as on SQLite builds without SECURE_DELETE: forget must switch it on
    forget_person(db, "P002", actor="dpo")

    p = load_people(db)["P002"]
    assert p.forgotten and p.given_name is None and p.family_name is None
    ids, matrix = load_reference_encodings(db)
    assert ids == ["P001"]
    assert db.execute("SELECT COUNT(*) FROM reference_encodings WHERE person_id='P002'").fetchone()[0] == 0
    text = all_text_in_db(db)
    for name in ("Zoë", "Brontë", "Brontë-Smith"):
        assert name not in text
    # and not in the bytes of the database file either (deleted rows are overwritten)
    raw = b"".join(f.read_bytes() for f in Path(loaded.db_path).parent.glob("pipeline.db*"))
    for name in ("Zoë", "Brontë"):
        assert name.encode() not in raw
    assert enc.astype("<f8").tobytes() not in raw
    tomb = db.execute("SELECT actor, detail FROM events WHERE kind='consent.forget' AND person_id='P002'").fetchall()
    assert len(tomb) == 1 and tomb[0]["actor"] == "dpo"
    assert any(h["field"] == "forgotten" for h in history(db, "P002"))
    # other people untouched
    assert load_people(db)["P001"].given_name == "Amelia"


def test_forgotten_person_cannot_be_set_and_stays_forgotten_on_reimport(loaded, tmp_path):
    forget_person(loaded.db, "P001", actor="dpo")
    forget_person(loaded.db, "P001", actor="dpo")  # twice: nothing more happens
    assert loaded.db.execute("SELECT COUNT(*) FROM events WHERE kind='consent.forget'").fetchone()[0] == 1
    with pytest.raises(RegisterError, match="has been forgotten"):
        set_consent(loaded.db, "P001", "website", "granted", reason="x", actor="dpo")
    # issue 15: erasure survives re-import (tests/test_erasure.py covers restore)
    summary = import_register(loaded.db, write_csv(tmp_path / "back.csv", [HEADER, ROWS[0]]), CHANNELS, actor="dpo")
    assert summary.restored == [] and [p for p, _ in summary.erased_skipped] == ["P001"]
    p = load_people(loaded.db)["P001"]
    assert p.forgotten and p.given_name is None


def test_forget_unknown_person(loaded):
    with pytest.raises(RegisterError, match="no person 'nobody'"):
        forget_person(loaded.db, "nobody", actor="dpo")
