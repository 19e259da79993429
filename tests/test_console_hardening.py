"""Crafted input on the console answers 400/404 (or a clamped page), never 500; released thumbnails are
revalidated; bidi control characters are refused in the register and replaced in upload names; a caption
sidecar uploaded on the console is listed as a caption, not as waiting for ever."""
from __future__ import annotations

import io

import pytest

from tests.console_helpers import BASE, console_workspace, csrf_of, held, signed_in
from tests.review_helpers import CHANNELS, HEADER, REGISTER, query

HUGE = "9" * 30          # beyond SQLite's INTEGER (OverflowError when bound)
VERY_HUGE = "9" * 5000   # beyond int()'s digit limit (ValueError)
SUPERSCRIPT = "%C2%B2"   # "²": "²".isdigit() is True, int("²") fails
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e",
        "\u200f", "\u061c"]


@pytest.fixture
def ws(tmp_path_factory, tmp_path):
    return console_workspace(tmp_path_factory, tmp_path)


_as = signed_in


# ---------------------------------------------------------------- F9: numbers in URLs and forms

@pytest.mark.parametrize("role,url,expected", [
    ("comms", f"/approved/website?page={SUPERSCRIPT}", 200),
    ("comms", f"/approved/website?page={HUGE}", 200),
    ("comms", f"/approved/website?page={VERY_HUGE}", 200),
    ("comms", "/approved/website?page=-3", 200),
    ("comms", f"/approved/website/{HUGE}/thumb.jpg", 404),
    ("comms", f"/approved/website/{VERY_HUGE}/thumb.jpg", 404),
    ("comms", f"/approved/website/{SUPERSCRIPT}/thumb.jpg", 404),
    ("comms", f"/approved/website/{HUGE}/download", 404),
    ("comms", f"/approved/website/{2 ** 63}/download", 404),
    ("office", f"/register?page={SUPERSCRIPT}", 200),
    ("office", f"/register?page={HUGE}", 200),
    ("office", f"/register?page={VERY_HUGE}", 200),
    ("safeguarding", f"/activity?page={SUPERSCRIPT}", 200),
    ("safeguarding", "/activity?page=99999999999999999", 200),
    ("safeguarding", f"/activity?page={HUGE}", 200),
    ("safeguarding", f"/activity?page={VERY_HUGE}", 200),
    ("safeguarding", f"/activity?who=nobody&page={HUGE}", 200),
    ("safeguarding", f"/review/{HUGE}/preview.jpg", 404),
    ("safeguarding", f"/review/{SUPERSCRIPT}/preview.jpg", 404),
    ("safeguarding", f"/review/{HUGE}/face/1.jpg", 404),
    ("safeguarding", f"/review/1/face/{HUGE}.jpg", 404),
])
def test_crafted_numbers_in_urls_are_not_errors(ws, role, url, expected):
    r = _as(ws, role).get(url, base_url=BASE)
    assert r.status_code == expected, (url, r.status_code)
    assert "Something went wrong" not in r.get_data(as_text=True)


def test_a_huge_page_number_shows_the_last_page(ws):
    client = _as(ws, "safeguarding")
    html = client.get(f"/activity?page={HUGE}", base_url=BASE).get_data(as_text=True)
    total = query(ws, "SELECT count(*) AS n FROM events")[0]["n"]
    assert total and f"<span>Page {-(-total // 100)}</span>" in html and "Nothing recorded yet" not in html
    html = client.get(f"/activity?who=nobody&page={HUGE}", base_url=BASE).get_data(as_text=True)
    assert "<span>Page 1</span>" in html and "Nothing recorded yet" in html
    comms = _as(ws, "comms")
    html = comms.get(f"/approved/website?page={HUGE}", base_url=BASE).get_data(as_text=True)
    ids = [r["id"] for r in query(ws, "SELECT id FROM outputs WHERE channel='website' AND state='live'")]
    assert ids and all(f'id="photo-{i}"' in html for i in ids)


@pytest.mark.parametrize("url", [f"/review/{HUGE}/face/1", f"/review/{HUGE}/face/1/undo", f"/review/{HUGE}/release",
                                 f"/review/{HUGE}/block", f"/review/{HUGE}/retract", f"/review/1/face/{HUGE}"])
def test_crafted_review_forms_are_not_errors(ws, url):
    client = _as(ws, "safeguarding")
    token = csrf_of(client, page="/review")
    r = client.post(url, data={"csrf_token": token, "confirm": "yes", "reason": "x", "person": "obama"},
                    base_url=BASE)
    assert r.status_code in (303, 404), r.status_code
    assert len(held(ws)) == 1


def test_crafted_gallery_forms_are_not_errors(ws):
    client = _as(ws, "comms")
    token = csrf_of(client, page="/approved/website")
    live = [str(r["id"]) for r in query(ws, "SELECT id FROM outputs WHERE channel='website' AND state='live'")]
    for bad in ("\u00b2", HUGE, VERY_HUGE, "\u0663", "-1", "0", ""):
        r = client.post("/approved/website/zip", data={"csrf_token": token, "output": [live[0], bad]},
                        base_url=BASE, follow_redirects=True)
        assert r.status_code == 200 and r.mimetype == "text/html", bad
        assert "Nothing was downloaded" in r.get_data(as_text=True) or "Tick at least one" in r.get_data(as_text=True)
    assert query(ws, "SELECT count(*) AS n FROM pulls WHERE actor='comms1'")[0]["n"] == 0
    r = client.post(f"/approved/website/{live[0]}/posted", data={"csrf_token": token, "page": "\u00b2"},
                    base_url=BASE)
    assert r.status_code == 303 and "page=1" in r.headers["Location"]
    r = client.post(f"/approved/website/{HUGE}/posted", data={"csrf_token": token}, base_url=BASE)
    assert r.status_code == 404
    r = client.post(f"/takedowns/{HUGE}/done", data={"csrf_token": token}, base_url=BASE)
    assert r.status_code == 404


def test_shared_functions_refuse_ids_beyond_sqlite_plainly(ws):
    from pipeline.delivery import gallery
    from pipeline.errors import UserError
    from pipeline.review import queue
    from pipeline.workspace import open_workspace

    w = open_workspace(ws)
    try:
        huge = int(HUGE)
        for call in (lambda: gallery.thumbnail(w, "website", huge),
                     lambda: gallery.hand_out(w, "website", huge, actor="t"),
                     lambda: gallery.hand_out_zip(w, "website", [huge], actor="t"),
                     lambda: gallery.mark_posted(w, "website", huge, actor="t"),
                     lambda: queue.preview_bytes(w, huge),
                     lambda: queue.face_crop(w, huge, 1),
                     lambda: queue.release(w, huge, actor="t"),
                     lambda: queue.block(w, huge, actor="t"),
                     lambda: queue.identify(w, huge, 1, "obama", actor="t")):
            with pytest.raises(UserError):
                call()
    finally:
        w.close()


def test_whole_number_helper():
    from console.views._common import SQLITE_MAX_INT, page_number, whole_number

    assert whole_number("42") == 42 and whole_number(" 7 ") == 7 and whole_number("007") == 7
    assert whole_number(str(SQLITE_MAX_INT)) == SQLITE_MAX_INT
    for bad in (None, "", "0", "-1", "+1", "1.0", "\u00b2", "\u0663", "１", str(SQLITE_MAX_INT + 1), HUGE,
                VERY_HUGE, "0" * 5000 + "1" * 5000):
        assert whole_number(bad) is None, bad
    assert page_number(None) == page_number("") == page_number("\u00b2") == page_number("0") == 1
    assert page_number("3") == 3 and page_number(HUGE) == SQLITE_MAX_INT == page_number(VERY_HUGE)


@pytest.mark.parametrize("name", ["..", "a\x00b.csv", "A" * 300 + ".csv", "../../x.csv", "."])
def test_register_import_with_a_crafted_file_name(ws, name):
    client = _as(ws, "office")
    token = csrf_of(client, page="/register")
    body = ("\n".join([HEADER, *REGISTER]) + "\n").encode()
    r = client.post("/register/import", data={"csrf_token": token, "csv": (io.BytesIO(body), name)},
                    base_url=BASE, content_type="multipart/form-data", follow_redirects=True)
    assert r.status_code == 200 and "unchanged" in r.get_data(as_text=True), r.get_data(as_text=True)[-2000:]
    assert not [p for p in ws.iterdir() if p.name.startswith(".register-")]


def test_import_csv_bytes_uses_a_fixed_file_name(ws):
    from pipeline.consent_changes.register_actions import import_csv_bytes
    from pipeline.workspace import open_workspace

    body = ("\n".join([HEADER, *REGISTER]) + "\n").encode()
    w = open_workspace(ws)
    try:
        for name in ("..", "a\x00b.csv", "B" * 300 + ".csv", "", "/etc/passwd"):
            summary = import_csv_bytes(w, body, name, actor="office1")[0]
            assert len(summary.unchanged) == len(REGISTER)
    finally:
        w.close()
    assert not [p for p in ws.iterdir() if p.name.startswith(".register-")]


# ---------------------------------------------------------------- F10: thumbnails are revalidated

def test_thumbnails_must_be_revalidated(ws):
    client = _as(ws, "comms")
    [out] = query(ws, "SELECT id FROM outputs WHERE channel='website' AND state='live' ORDER BY id LIMIT 1")
    url = f"/approved/website/{out['id']}/thumb.jpg"
    for _ in range(2):   # made now, then read from thumbnails/
        r = client.get(url, base_url=BASE)
        assert r.status_code == 200 and r.mimetype == "image/jpeg"
        assert r.headers["Cache-Control"] == "private, no-cache"
    # asking again is cheap: the same thumbnail is "not modified"
    again = client.get(url, base_url=BASE, headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304 and not again.data and again.headers["Cache-Control"] == "private, no-cache"


# ---------------------------------------------------------------- F11: bidi controls, caption sidecars

@pytest.mark.parametrize("char", BIDI, ids=[f"U+{ord(c):04X}" for c in BIDI])
def test_register_refuses_bidi_controls_in_names(char):
    from consent.register import RegisterError
    from consent.register_import import read_register_csv

    rows = [REGISTER[0], REGISTER[1].replace("Biden", f"Bi{char}den")]
    data = ("\n".join([HEADER, *rows]) + "\n").encode()
    with pytest.raises(RegisterError, match=r"row 3, column family_name: .*text direction"):
        read_register_csv(data, CHANNELS, "pupils.csv")
    ok = ("\n".join([HEADER, *REGISTER]) + "\n").encode()
    assert len(read_register_csv(ok, CHANNELS, "pupils.csv")[0]) == len(REGISTER)


def test_register_with_bidi_controls_is_refused_on_the_console(ws):
    client = _as(ws, "office")
    token = csrf_of(client, page="/register")
    rows = [REGISTER[0].replace("Barack", "Bar\u202eack")]
    body = ("\n".join([HEADER, *rows]) + "\n").encode()
    r = client.post("/register/import", data={"csrf_token": token, "csv": (io.BytesIO(body), "pupils.csv")},
                    base_url=BASE, content_type="multipart/form-data", follow_redirects=True)
    text = r.get_data(as_text=True)
    assert "Nothing was imported" in text and "row 2, column given_name" in text
    assert query(ws, "SELECT given_name FROM people WHERE person_id='obama'")[0]["given_name"] == "Barack"


@pytest.mark.parametrize("char", BIDI, ids=[f"U+{ord(c):04X}" for c in BIDI])
def test_upload_names_lose_bidi_controls(char):
    from pipeline.intake.uploads import _safe_file_name

    name = _safe_file_name(f"rtl{char}gpj.exe.jpg")
    assert name == "rtl_gpj.exe.jpg"
    assert _safe_file_name(f"{char}{char}x.jpg") == "_x.jpg"
    assert _safe_file_name(f"{char}.jpg") == "_.jpg"


def test_upload_with_a_bidi_name_is_saved_without_it(ws):
    client = _as(ws, "staff")
    token = csrf_of(client, page="/upload")
    files = [(io.BytesIO(b"\xff\xd8 x"), "rtl\u202egpj.exe.jpg")]
    r = client.post("/upload", data={"csrf_token": token, "files": files}, base_url=BASE,
                    headers={"Accept": "application/json"}, content_type="multipart/form-data")
    assert r.get_json()["saved"] == ["rtl_gpj.exe.jpg"]
    assert (ws / "inbox" / "staff1" / "rtl_gpj.exe.jpg").is_file()
    html = client.get("/uploads", base_url=BASE).get_data(as_text=True)
    assert not any(c in html for c in BIDI)


def test_caption_sidecars_are_listed_as_captions(ws):
    client = _as(ws, "staff")
    token = csrf_of(client, page="/upload")
    files = [(io.BytesIO(b"\xff\xd8 x"), "x.jpg"), (io.BytesIO(b"Sports day"), "x.jpg.txt"),
             (io.BytesIO(b"Fair"), "fair.txt")]
    r = client.post("/upload", data={"csrf_token": token, "files": files}, base_url=BASE,
                    headers={"Accept": "application/json"}, content_type="multipart/form-data")
    assert sorted(r.get_json()["saved"]) == ["fair.txt", "x.jpg", "x.jpg.txt"]
    from pipeline.intake.uploads import uploads_of
    from pipeline.workspace import open_workspace

    w = open_workspace(ws)
    try:
        items = {u["name"]: u for u in uploads_of(w, "staff1")}
    finally:
        w.close()
    assert items["x.jpg"]["status"] == "waiting"                       # the photo itself still waits
    for name, photo in (("x.jpg.txt", "x.jpg"), ("fair.txt", "fair")):
        assert items[name]["status"] == "caption" and photo in items[name]["reason"]
        assert "waiting" not in items[name]["reason"] and items[name]["job_id"] is None
    html = client.get("/uploads", base_url=BASE).get_data(as_text=True)
    assert html.count("waiting to be processed") == 1 and "caption for x.jpg" in html
