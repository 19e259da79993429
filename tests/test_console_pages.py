"""The console's pages do what the CLI does (same shared functions), recorded under the signed-in name:
review (faces numbered from 1, confirmation and reason, undo, take back), gallery (pages, zip, posted),
register (consent on all channels, never-publish, forget with confirmation), escaping, plain errors."""
from __future__ import annotations

import io
import json
import zipfile

import pytest

from tests.console_helpers import BASE, console_workspace, csrf_of, held, signed_in
from tests.review_helpers import invoke, job_id, query


@pytest.fixture
def ws(tmp_path_factory, tmp_path):
    return console_workspace(tmp_path_factory, tmp_path)


_as = signed_in


def test_review_page_shows_faces_in_question_first_with_words(ws):
    [item] = held(ws)
    client = _as(ws, "safeguarding")
    html = client.get("/review", base_url=BASE).get_data(as_text=True)
    stranger = next(f for f in item["faces"] if f["needs_review"])["face"]
    assert stranger >= 1 and all(f["face"] >= 1 for f in item["faces"])
    first_face = html.index(f'id="image-{item["id"]}-face-')
    assert html[first_face:].startswith(f'id="image-{item["id"]}-face-{stranger}"')   # in question first
    assert "<details class=\"settled\">" in html and 'list="people"' in html
    assert "Barack Obama" in html and "needs a decision" in html
    assert any(w in html for w in ("probably someone else", "could be this person", "probably the same person",
                                   "very likely the same person", "Nobody in the register looks like this face"))


def test_release_and_block_need_confirmation_and_a_reason(ws):
    [item] = held(ws)
    client = _as(ws, "safeguarding")
    token = csrf_of(client, page="/review")
    for data in ({}, {"confirm": "yes"}, {"reason": "checked"}, {"confirm": "yes", "reason": "  "}):
        r = client.post(f"/review/{item['id']}/release", data={"csrf_token": token, **data}, base_url=BASE,
                        follow_redirects=True)
        assert "tick the box to confirm and give a reason" in r.get_data(as_text=True)
        client.post(f"/review/{item['id']}/block", data={"csrf_token": token, **data}, base_url=BASE)
    assert [i["id"] for i in held(ws)] == [item["id"]]
    r = client.post(f"/review/{item['id']}/block", data={"csrf_token": token, "confirm": "yes",
                                                         "reason": "cannot tell who it is"}, base_url=BASE)
    assert r.status_code == 303 and held(ws) == []
    row = query(ws, "SELECT status, reason FROM jobs WHERE id=?", (item["id"],))[0]
    assert row["status"] == "blocked" and row["reason"] == "blocked on review by safeguarding1"
    detail = query(ws, "SELECT actor, detail FROM events WHERE kind='review.block'")[0]
    assert detail["actor"] == "safeguarding1" and "cannot tell who it is" in detail["detail"]


def test_errors_are_plain_and_text_is_escaped(ws):
    [item] = held(ws)
    from pipeline.workspace import open_workspace

    w = open_workspace(ws)
    w.db.execute("UPDATE jobs SET source=? WHERE id=?", ("inbox/<img src=x onerror=alert(1)>.jpg", item["id"]))
    w.close()
    client = _as(ws, "safeguarding")
    html = client.get("/review", base_url=BASE).get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    token = csrf_of(client, page="/review")
    r = client.post(f"/review/{item['id']}/face/9", data={"csrf_token": token, "person": "obama"}, base_url=BASE,
                    follow_redirects=True)
    assert "has no face 9" in r.get_data(as_text=True) and "Traceback" not in r.get_data(as_text=True)
    r = client.post(f"/review/{item['id']}/face/1", data={"csrf_token": token, "person": "nobody_here"},
                    base_url=BASE, follow_redirects=True)
    assert "pick the person from the list" in r.get_data(as_text=True)
    r = client.post(f"/review/{item['id']}/face/1", data={"csrf_token": token, "person": "joe  BIDEN"},
                    base_url=BASE, follow_redirects=True)
    assert "recorded as biden" in r.get_data(as_text=True)   # a name only one person has


def test_cli_faces_from_one_and_undo(ws):
    [item] = held(ws)
    stranger = next(f for f in item["faces"] if f["needs_review"])["face"]
    out = invoke(ws, "review", "list").stdout
    assert f"face {stranger}: NEEDS A DECISION" in out and "face 0:" not in out
    r = invoke(ws, "review", "decide", item["id"], "--face", 0, "--as", "unknown", expect=2)
    assert "numbered 1 to" in r.output
    invoke(ws, "review", "decide", item["id"], "--face", stranger, "--as", "unknown")
    assert next(f for f in held(ws)[0]["faces"] if f["face"] == stranger)["confirmed"] == "unknown"
    invoke(ws, "review", "decide", item["id"], "--face", stranger, "--undo")
    face = next(f for f in held(ws)[0]["faces"] if f["face"] == stranger)
    assert face["confirmed"] is None and face["needs_review"]
    assert [r["decision"] for r in query(ws, "SELECT decision FROM review_decisions WHERE job_id=?", (item["id"],))] \
        == ["identify", "identify"]


def test_take_back_a_released_photo_raises_takedowns(ws, tmp_path):
    job = job_id(ws, "obama1.jpg")
    invoke(ws, "pull", "--channel", "website", "--to", tmp_path / "out")
    client = _as(ws, "comms")
    thumbs = [f"/approved/{r['channel']}/{r['id']}/thumb.jpg"
              for r in query(ws, "SELECT id, channel FROM outputs WHERE job_id=?", (job,))]
    assert all(client.get(t, base_url=BASE).status_code == 200 for t in thumbs)
    files = [ws / r["path"] for r in query(ws, "SELECT path FROM outputs WHERE job_id=?", (job,))]
    assert all(f.is_file() for f in files)
    dsl = _as(ws, "safeguarding")
    assert f'id="released-{job}"' in dsl.get("/review", base_url=BASE).get_data(as_text=True)
    r = dsl.post(f"/review/{job}/retract", data={"csrf_token": csrf_of(dsl, page="/review"), "confirm": "yes",
                                                 "reason": "parent phoned: child in care"}, base_url=BASE,
                 follow_redirects=True)
    assert "taken back" in r.get_data(as_text=True)
    assert not any(f.exists() for f in files)
    assert query(ws, "SELECT status FROM jobs WHERE id=?", (job,))[0]["status"] == "blocked"
    assert {r["state"] for r in query(ws, "SELECT state FROM outputs WHERE job_id=?", (job,))} == {"retracted"}
    takedowns = json.loads(invoke(ws, "pull", "--takedowns", "--json").stdout)
    assert [t["channel"] for t in takedowns if t["job_id"] == job] == ["website"]
    assert "safeguarding1" in takedowns[0]["reason"] and "child in care" not in takedowns[0]["reason"]
    assert "child in care" in query(ws, "SELECT detail FROM events WHERE kind='review.retract'")[0]["detail"]
    # the comms lead sees it on every page, and every pull prints it
    assert "must be taken down" in client.get("/approved/social", base_url=BASE).get_data(as_text=True)
    assert "TAKE DOWN" in invoke(ws, "pull", "--channel", "social", "--to", tmp_path / "social").stdout
    assert all(client.get(t, base_url=BASE).status_code == 404 for t in thumbs)
    assert not list((ws / "thumbnails").rglob(f"{thumbs[0].split('/')[3]}-*.jpg"))
    r = invoke(ws, "review", "retract", job, "--reason", "again", expect=2)
    assert "not released" in r.output


def test_gallery_zip_and_posted_are_hand_overs(ws):
    client = _as(ws, "comms")
    html = client.get("/approved/website", base_url=BASE).get_data(as_text=True)
    ids = [r["id"] for r in query(ws, "SELECT id FROM outputs WHERE channel='website' AND state='live'")]
    assert len(ids) == 3 and all(f'id="photo-{i}"' in html for i in ids)
    assert "obama1.jpg" in html and "two_people.jpg" in html          # original names on the page
    token = csrf_of(client, page="/approved/website")
    r = client.post("/approved/website/zip", data={"csrf_token": token, "output": [str(i) for i in ids]},
                    base_url=BASE)
    assert r.status_code == 200 and r.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.data)).namelist()
    assert len([n for n in names if n.endswith(".jpg")]) == 3 and all("obama" not in n for n in names)
    assert len(query(ws, "SELECT id FROM pulls WHERE actor='comms1'")) == 3
    r = client.post(f"/approved/website/{ids[0]}/posted", data={"csrf_token": token}, base_url=BASE)
    assert r.status_code == 303
    html = client.get("/approved/website", base_url=BASE).get_data(as_text=True)
    assert html.count("posted 20") == 1
    assert client.get("/approved/nochannel", base_url=BASE).status_code == 404


def test_register_changes_from_the_page(ws):
    client = _as(ws, "office")
    token = csrf_of(client, page="/register")
    r = client.post("/register/biden/consent", data={"csrf_token": token, "channel": "all", "status": "withdrawn",
                                                     "reason": "letter"}, base_url=BASE, follow_redirects=True)
    assert "every channel is now withdrawn" in r.get_data(as_text=True)
    assert {r["status"] for r in query(ws, "SELECT status FROM consents WHERE person_id='biden'")} == {"withdrawn"}
    r = client.post("/register/biden/consent", data={"csrf_token": token, "channel": "website", "status": "granted",
                                                     "reason": ""}, base_url=BASE, follow_redirects=True)
    assert "Nothing was changed" in r.get_data(as_text=True)
    client.post("/register/kit_harington/never-publish", data={"csrf_token": token, "never_publish": "yes",
                                                               "reason": "court order"}, base_url=BASE)
    assert query(ws, "SELECT never_publish FROM people WHERE person_id='kit_harington'")[0]["never_publish"] == 1
    job = job_id(ws, "johnsnow_test1.jpg")
    assert query(ws, "SELECT status FROM jobs WHERE id=?", (job,))[0]["status"] == "blocked"  # reached released photos
    # forget asks for the id to be typed
    assert query(ws, "SELECT count(*) AS n FROM reference_photos WHERE person_id='obama'")[0]["n"] >= 1
    r = client.post("/register/obama/forget", data={"csrf_token": token, "confirm_id": "obam"}, base_url=BASE)
    assert r.status_code == 400 and query(ws, "SELECT forgotten_at FROM people WHERE person_id='obama'")[0][
        "forgotten_at"] is None
    client.post("/register/obama/forget", data={"csrf_token": token, "confirm_id": "obama"}, base_url=BASE)
    assert query(ws, "SELECT count(*) AS n FROM people WHERE given_name='Barack' OR family_name='Obama'")[0]["n"] == 0
    assert query(ws, "SELECT count(*) AS n FROM reference_photos WHERE person_id='obama'")[0]["n"] == 0
    kinds = {r["kind"]: r["actor"] for r in query(ws, "SELECT kind, actor FROM events WHERE kind LIKE 'consent.%'"
                                                      " AND actor='office1'")}
    assert {"consent.set", "consent.forget"} <= set(kinds)
    assert query(ws, "SELECT actor FROM consent_history WHERE field='never_publish' AND reason='court order'") \
        == [{"actor": "office1"}]


def test_upload_refuses_what_is_not_a_photo(ws):
    client = _as(ws, "staff")
    token = csrf_of(client, page="/upload")
    r = client.post("/upload", data={"csrf_token": token, "files": [(io.BytesIO(b"MZ..."), "tool.exe")]},
                    base_url=BASE, headers={"Accept": "application/json"}, content_type="multipart/form-data")
    assert r.status_code == 400 and "only photos and clips" in r.get_json()["errors"][0]
    assert not (ws / "inbox" / "staff1").exists() or not list((ws / "inbox" / "staff1").iterdir())
    r = client.post("/upload", data={"csrf_token": token, "files": [(io.BytesIO(b"\xff\xd8 not really"), "../../x.jpg")]},
                    base_url=BASE, headers={"Accept": "application/json"}, content_type="multipart/form-data")
    assert r.get_json()["saved"] == ["x.jpg"] and (ws / "inbox" / "staff1" / "x.jpg").is_file()
    assert query(ws, "SELECT uploader, source FROM uploads") == [{"uploader": "staff1", "source": "inbox/staff1/x.jpg"}]
    long = "ä" * 300 + ".jpg"
    r = client.post("/upload", data={"csrf_token": token, "files": [(io.BytesIO(b"\xff\xd8 no"), long)]},
                    base_url=BASE, headers={"Accept": "application/json"}, content_type="multipart/form-data")
    [saved] = r.get_json()["saved"]
    assert saved.endswith(".jpg") and len(saved.encode()) <= 180 and (ws / "inbox" / "staff1" / saved).is_file()


def test_consent_renewed_items_on_the_review_page(ws):
    invoke(ws, "consent", "set", "biden", "--channel", "social", "--status", "granted", "--reason", "parent agreed")
    job = job_id(ws, "two_people.jpg")
    client = _as(ws, "safeguarding")
    html = client.get("/review", base_url=BASE).get_data(as_text=True)
    assert f'id="image-{job}"' in html and "consent renewed" in html and "Show them in the released photo" in html
    token = csrf_of(client, page="/review")
    r = client.post(f"/review/{job}/block", data={"csrf_token": token, "confirm": "yes", "reason": "not sure"},
                    base_url=BASE, follow_redirects=True)
    assert r.status_code == 200 and "Traceback" not in r.get_data(as_text=True)
    assert f'id="image-{job}"' not in r.get_data(as_text=True)
    assert query(ws, "SELECT status FROM jobs WHERE id=?", (job,))[0]["status"] == "released"  # left as released


def test_staff_and_comms_are_told_a_photo_was_blocked_not_why_nor_whose_copy_it_was(ws):
    # kit_with_rose shows a never-publish pupil: the member of staff who took it must not learn that
    # from the reason; a copy of a photo someone else sent must not name that photo's file or folder.
    from tests.conftest import fixtures_dir

    events = fixtures_dir("faces", "events")
    client = _as(ws, "staff")
    token = csrf_of(client, page="/upload")
    files = [(io.BytesIO((events / "kit_with_rose.jpg").read_bytes()), "fair.jpg"),
             (io.BytesIO((events / "obama1.jpg").read_bytes()), "mine.jpg")]
    r = client.post("/upload", data={"csrf_token": token, "files": files}, base_url=BASE,
                    headers={"Accept": "application/json"}, content_type="multipart/form-data")
    assert sorted(r.get_json()["saved"]) == ["fair.jpg", "mine.jpg"]
    invoke(ws, "process", ws / "inbox" / "staff1")
    assert query(ws, "SELECT reason FROM jobs WHERE source LIKE '%fair.jpg'")[0]["reason"].count("never") == 1
    page = client.get("/uploads", base_url=BASE).get_data(as_text=True)
    assert "It will not be published. The safeguarding lead has the details." in page
    assert "The same photo had been sent before" in page
    for secret in ("never", "photos/obama1", "obama1.jpg", "review_template"):
        assert secret not in page, secret
    comms = _as(ws, "comms")
    page = comms.get("/not-released", base_url=BASE).get_data(as_text=True)
    assert "fair.jpg" in page and "It will not be published" in page and "never" not in page
