"""`pipeline review serve`: the local review page — in a real headless browser, and its safety rules."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import ROOT, fixtures_dir
from tests.review_helpers import fresh_copy, invoke, query, template_workspace

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture
def ws(tmp_path_factory, tmp_path):
    return fresh_copy(template_workspace(tmp_path_factory), tmp_path)


def held(root):
    return json.loads(invoke(root, "review", "list", "--json").stdout)


@pytest.fixture
def client(ws):
    from pipeline.review.web import create_app

    app = create_app(ws, actor="Web Reviewer")
    return app.test_client()


def token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


# ---------------------------------------------------------------- the app (Flask test client)

def test_page_lists_held_images_with_local_assets_only(client, ws):
    [item] = held(ws)
    resp = client.get("/", base_url="http://127.0.0.1:5000")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert f'id="image-{item["id"]}"' in html and "obama_and_biden.jpg" in html
    assert "Barack Obama" in html and "needs a decision" in html
    assert not re.search(r'(src|href|action)="(https?:)?//', html)        # nothing from elsewhere
    assert "<script" not in html
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "img-src 'self'" in csp
    assert resp.headers["Cache-Control"] == "no-store"
    stranger = next(f for f in item["faces"] if f["needs_review"])
    face = client.get(f"/image/{item['id']}/face/{stranger['face']}.jpg", base_url="http://127.0.0.1:5000")
    assert face.status_code == 200 and face.mimetype == "image/jpeg"
    preview = client.get(f"/image/{item['id']}/preview.jpg", base_url="http://127.0.0.1:5000")
    assert preview.status_code == 200 and preview.data == (ws / item["preview"]).read_bytes()


def test_forms_without_the_csrf_token_are_refused(client, ws):
    [item] = held(ws)
    resp = client.post(f"/image/{item['id']}/release", base_url="http://127.0.0.1:5000")
    assert resp.status_code == 400 and "did not come from the review page" in resp.get_data(as_text=True)
    assert [i["id"] for i in held(ws)] == [item["id"]]
    page = client.get("/", base_url="http://127.0.0.1:5000").get_data(as_text=True)
    resp = client.post(f"/image/{item['id']}/block", data={"csrf_token": "forged" + token(page)[6:]},
                       base_url="http://127.0.0.1:5000")
    assert resp.status_code == 400 and len(held(ws)) == 1
    resp = client.post(f"/image/{item['id']}/block", data={"csrf_token": token(page)},
                       base_url="http://127.0.0.1:5000")
    assert resp.status_code == 303 and held(ws) == []


def test_other_host_names_are_refused(client):
    assert client.get("/", base_url="http://attacker.example:8765").status_code == 400


def test_faces_are_served_only_while_held(client, ws):
    [item] = held(ws)
    page = client.get("/", base_url="http://127.0.0.1:5000").get_data(as_text=True)
    client.post(f"/image/{item['id']}/release", data={"csrf_token": token(page)}, base_url="http://127.0.0.1:5000")
    assert query(ws, "SELECT status FROM jobs WHERE id=?", (item["id"],)) == [{"status": "released"}]
    for url in (f"/image/{item['id']}/face/0.jpg", f"/image/{item['id']}/preview.jpg"):
        assert client.get(url, base_url="http://127.0.0.1:5000").status_code == 404


def test_text_from_files_is_escaped(client, ws):
    [item] = held(ws)
    from pipeline.workspace import open_workspace

    w = open_workspace(ws)
    w.db.execute("UPDATE jobs SET source=? WHERE id=?", ("inbox/<img src=x onerror=alert(1)>.jpg", item["id"]))
    w.close()
    html = client.get("/", base_url="http://127.0.0.1:5000").get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_errors_are_shown_on_the_page(client, ws):
    [item] = held(ws)
    page = client.get("/", base_url="http://127.0.0.1:5000").get_data(as_text=True)
    resp = client.post(f"/image/{item['id']}/face/9", data={"csrf_token": token(page), "person": "obama"},
                       base_url="http://127.0.0.1:5000", follow_redirects=True)
    assert "has no face 9" in resp.get_data(as_text=True)


# ---------------------------------------------------------------- a real browser

def _chromium_or_skip():
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (scripts/test installs it as root: "
                    "apt-get install chromium)")
    return pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[test]')")


@pytest.fixture
def server(ws):
    """`pipeline review serve --port 0` as a user would run it; yields its URL."""
    env = dict(os.environ, PIPELINE_WORKSPACE=str(ws), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "review", "serve", "--port", "0",
                             "--by", "Browser Reviewer"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
        assert match, (line, proc.stderr.read() if proc.poll() is not None else "")
        yield match.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_review_in_a_headless_browser(ws, tmp_path, server):
    sync_api = _chromium_or_skip()
    url = server
    # a second held photo (same pixels as PNG, so not a duplicate) so one stays in the queue
    second = tmp_path / "second.png"
    Image.open(fixtures_dir("faces", "events") / "obama_and_biden.jpg").save(second)
    invoke(ws, "process", second)
    first, other = held(ws)
    stranger = next(f for f in first["faces"] if f["needs_review"])["face"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(url)
        assert page.locator("section.held").count() == 2
        card = page.locator(f"#image-{first['id']}")
        # the redacted preview and the face in question load from the local app
        assert card.locator("img.preview").evaluate("img => img.complete && img.naturalWidth > 0")
        face_img = card.locator(f"#image-{first['id']}-face-{stranger} img")
        assert face_img.evaluate("img => img.complete && img.naturalWidth > 0")
        # say who the stranger is: not in the register
        card.locator(f"#image-{first['id']}-face-{stranger} select").select_option("unknown")
        card.locator(f"#image-{first['id']}-face-{stranger} button").click()
        page.wait_for_load_state()
        assert "recorded as unknown" in page.locator(".flash.ok").inner_text()
        assert "confirmed as" in page.locator(f"#image-{first['id']}-face-{stranger}").inner_text()
        # release it: it leaves the queue, the other stays
        page.locator(f"#image-{first['id']} button.release").click()
        page.wait_for_load_state()
        assert f"Image {first['id']} released" in page.locator(".flash.ok").inner_text()
        assert page.locator(f"#image-{first['id']}").count() == 0
        assert page.locator("section.held").count() == 1
        # block the other one: the queue is empty
        page.locator(f"#image-{other['id']} button.block").click()
        page.wait_for_load_state()
        assert page.locator("#queue-empty").is_visible()
        browser.close()
    statuses = {r["id"]: r["status"] for r in query(ws, "SELECT id, status FROM jobs")}
    assert statuses[first["id"]] == "released" and statuses[other["id"]] == "blocked"
    decisions = query(ws, "SELECT job_id, face_idx, decision, person_id, actor FROM review_decisions ORDER BY id")
    assert decisions == [
        {"job_id": first["id"], "face_idx": stranger, "decision": "identify", "person_id": "unknown",
         "actor": "Browser Reviewer"},
        {"job_id": first["id"], "face_idx": None, "decision": "release", "person_id": None, "actor": "Browser Reviewer"},
        {"job_id": other["id"], "face_idx": None, "decision": "block", "person_id": None, "actor": "Browser Reviewer"},
    ]
    assert all((ws / p).is_file() for p in json.loads(
        query(ws, "SELECT result_json FROM jobs WHERE id=?", (first["id"],))[0]["result_json"])["outputs"].values())


def test_serve_refuses_a_port_in_use(ws):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        r = invoke(ws, "review", "serve", "--port", s.getsockname()[1], expect=2)
        assert "choose another port" in r.output
    finally:
        s.close()
