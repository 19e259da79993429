"""`pipeline serve` for real (waitress in a subprocess; cheroot with TLS), and one end-to-end flow per role
in headless Chromium (Debian's /usr/bin/chromium through Playwright; never `playwright install`)."""
from __future__ import annotations

import base64
import http.client
import json
import re
import shutil
import ssl
import subprocess
import urllib.parse
from pathlib import Path

import pytest

from tests.conftest import fixtures_dir
from tests.console_helpers import PASSWORD, Server, cli, console_workspace, held, user_for
from tests.review_helpers import invoke, query

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return console_workspace(tmp_path_factory, tmp_path_factory.mktemp("console_browser"))


@pytest.fixture(scope="module")
def server(ws):
    s = Server(ws)
    yield s
    s.stop()


def _chromium():
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (scripts/test installs it as root: "
                    "apt-get install chromium)")
    return pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[test]')")


@pytest.fixture(scope="module")
def browser():
    sync_api = _chromium()
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _request(url: str, path: str, *, method="GET", body=None, headers=None, context=None):
    parts = urllib.parse.urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname, parts.port, timeout=30, **({"context": context} if context else {}))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def _login_raw(url, name, password, *, context=None):
    status, headers, body = _request(url, "/login", context=context)
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(rb'name="csrf_token" value="([^"]+)"', body).group(1).decode()
    form = urllib.parse.urlencode({"username": name, "password": password, "csrf_token": token})
    return _request(url, "/login", method="POST", body=form, context=context,
                    headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})


# ---------------------------------------------------------------- the real server, no browser

def test_real_server_health_host_trick_and_lockout(ws, server):
    status, headers, body = _request(server.url, "/healthz")
    assert (status, body) == (200, b"ok") and headers.get("Server") == "console"  # waitress, ident="console"
    [item] = held(ws)
    face = next(f for f in item["faces"] if f["needs_review"])["face"]
    for host in ("localhost", "127.0.0.1", "evil.example"):
        status, _, body = _request(server.url, f"/review/{item['id']}/face/{face}.jpg", headers={"Host": host})
        assert status == 401 and not body.startswith(b"\xff\xd8")
        status, headers, _ = _request(server.url, "/review", headers={"Host": host, "X-Forwarded-For": "127.0.0.1"})
        assert status == 302 and headers["Location"].startswith("/login")
    for _ in range(10):
        assert _login_raw(server.url, "office1", "not the password")[0] == 401
    assert _login_raw(server.url, "office1", PASSWORD)[0] == 401  # the lock holds
    # the administrator lifts it
    cli(ws, "users", "reset-password", "office1", "--password-stdin", input=PASSWORD + "\n")
    assert _login_raw(server.url, "office1", PASSWORD)[0] == 303


def test_tls_with_cert_and_key(ws, tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    s = Server(ws, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        assert s.url.startswith("https://")
        ctx = ssl.create_default_context(cafile=str(cert))
        ctx.check_hostname = False
        assert _request(s.url, "/healthz", context=ctx)[2] == b"ok"
        status, headers, _ = _login_raw(s.url, "staff1", PASSWORD, context=ctx)
        assert status == 303
        cookie = headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert "max-age" in headers.get("Strict-Transport-Security", "")
    finally:
        s.stop()
    r = cli(ws, "serve", "--tls-cert", str(cert), "--tls-key", str(tmp_path / "missing.pem"), expect=2)
    assert "does not exist" in r.output and "Traceback" not in r.output


# ---------------------------------------------------------------- one flow per role, in a browser

def _sign_in(browser, url, role):
    page = browser.new_context(accept_downloads=True).new_page()
    page.goto(url + "login")
    page.fill("input[name=username]", user_for(role))
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def _loaded(locator) -> bool:
    """The image shows (scrolled into view first: thumbnails load lazily)."""
    locator.scroll_into_view_if_needed()
    locator.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=locator.element_handle(),
                                   timeout=15000)
    return locator.evaluate("img => img.complete && img.naturalWidth > 0")


def test_safeguarding_confirms_a_face_and_releases(ws, server, browser):
    [item] = held(ws)
    stranger = next(f for f in item["faces"] if f["needs_review"])["face"]
    page = _sign_in(browser, server.url, "safeguarding")
    assert page.url.endswith("/review")
    card = page.locator(f"#image-{item['id']}")
    assert _loaded(card.locator("img.preview"))
    face_box = page.locator(f"#image-{item['id']}-face-{stranger}")
    assert _loaded(face_box.locator("img.crop"))
    assert face_box.locator(".candidates").count() in (0, 1)
    # the searchable picker: type part of a name, take the suggestion (here: the id and name)
    face_box.locator("input.picker").fill("biden")
    face_box.locator("button.confirm").click()
    page.wait_for_load_state()
    assert "recorded as biden" in page.locator(".flash.ok").inner_text()
    # confident and decided faces are collapsed; the decision can be undone while held
    assert page.locator(f"#image-{item['id']} details.settled").count() == 1
    # release needs the confirmation tick and a reason
    form = page.locator(f"#image-{item['id']} form.release-form")
    form.locator("input[name=reason]").fill("checked with the class teacher")
    form.locator("input[name=confirm]").check()
    form.locator("button.release").click()
    page.wait_for_load_state()
    assert f"Photo {item['id']} released" in page.locator(".flash.ok").inner_text()
    assert page.locator("#queue-empty").is_visible()
    page.context.close()
    assert query(ws, "SELECT status, reason FROM jobs WHERE id=?", (item["id"],))[0]["status"] == "released"
    decisions = query(ws, "SELECT face_idx, decision, person_id, actor FROM review_decisions WHERE job_id=? ORDER BY id",
                      (item["id"],))
    assert decisions == [{"face_idx": stranger - 1, "decision": "identify", "person_id": "biden",
                          "actor": "safeguarding1"},
                         {"face_idx": None, "decision": "release", "person_id": None, "actor": "safeguarding1"}]
    reason = query(ws, "SELECT detail FROM events WHERE kind='review.release' ORDER BY id DESC LIMIT 1")[0]["detail"]
    assert "checked with the class teacher" in reason


def test_comms_downloads_and_marks_a_takedown_done(ws, server, browser):
    page = _sign_in(browser, server.url, "comms")
    assert "/approved/website" in page.url
    assert page.locator("#takedown-banner").count() == 0
    out = query(ws, "SELECT o.id, o.path FROM outputs o JOIN jobs j ON j.id=o.job_id "
                    "WHERE o.channel='website' AND j.source LIKE '%obama1.jpg'")[0]
    card = page.locator(f"#photo-{out['id']}")
    assert _loaded(card.locator("img"))
    assert "obama1.jpg" in card.locator("dd.orig").inner_text()
    with page.expect_download() as got:
        card.locator("a.download").click()
    saved = got.value.path()
    assert Path(saved).read_bytes() == (ws / out["path"]).read_bytes()
    # mark another one as posted
    other = page.locator("li.photo").filter(has_not=page.locator(f"#photo-{out['id']}")).first
    other.locator("button.posted").click()
    page.wait_for_load_state()
    assert "Marked as posted" in page.locator(".flash.ok").inner_text()
    # the family withdraws consent for the website: the downloaded copy must come down
    invoke(ws, "consent", "set", "obama", "--channel", "website", "--status", "withdrawn", "--reason", "parent letter")
    page.goto(server.url + "approved/website")
    assert page.locator("#takedown-banner").is_visible()
    page.click("#takedown-banner a")
    page.wait_for_load_state()
    rows = page.locator("#takedowns tbody tr[id^=takedown-]")
    assert rows.count() >= 1 and "withdrawn" in rows.first.locator("td.why").inner_text()
    n = rows.count()
    rows.first.locator("button.done").click()
    page.wait_for_load_state()
    assert "recorded as done" in page.locator(".flash.ok").inner_text()
    assert page.locator("#takedowns tbody tr[id^=takedown-]").count() == n - 1
    page.context.close()
    done = query(ws, "SELECT done_by FROM takedowns WHERE done_at IS NOT NULL")
    assert done and done[0]["done_by"] == "comms1"
    assert query(ws, "SELECT actor FROM pulls WHERE output_id=?", (out["id"],))[0]["actor"] == "comms1"


def test_office_withdraws_consent_on_all_channels(ws, server, browser):
    page = _sign_in(browser, server.url, "office")
    assert page.url.endswith("/register")
    page.fill("input[name=q]", "kit")
    page.click("form.search button")
    page.wait_for_load_state()
    row = page.locator("#person-kit_harington")
    form = row.locator("form.consent-form")
    form.locator("select[name=channel]").select_option("all")
    form.locator("select[name=status]").select_option("withdrawn")
    form.locator("input[name=reason]").fill("email from parent")
    form.locator("button").click()
    page.wait_for_load_state()
    assert "every channel is now withdrawn" in page.locator(".flash.ok").inner_text()
    assert [c.inner_text() for c in page.locator("#person-kit_harington td.st").all()] == ["withdrawn"] * 4
    page.context.close()
    rows = query(ws, "SELECT channel, status FROM consents WHERE person_id='kit_harington' ORDER BY channel")
    assert {r["status"] for r in rows} == {"withdrawn"} and len(rows) == 4
    actors = {r["actor"] for r in query(ws, "SELECT actor FROM consent_history WHERE person_id='kit_harington' "
                                            "AND reason='email from parent'")}
    assert actors == {"office1"}


def test_staff_uploads_two_photos_and_sees_their_status(ws, server, browser, tmp_path):
    events = fixtures_dir("faces", "events")
    page = _sign_in(browser, server.url, "staff")
    assert page.url.endswith("/upload")
    # one chosen with the file picker, one dragged onto the drop zone
    page.set_input_files("#files", [str(events / "kit_with_rose.jpg")])
    dropped = base64.b64encode((events / "alex_lacamoire1.jpg").read_bytes()).decode()
    page.evaluate("""data => {
        const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], "alex_lacamoire1.jpg", {type: "image/jpeg"}));
        document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true,
                                                                              cancelable: true}));
    }""", dropped)
    assert page.locator("#chosen li").count() == 2
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#see-uploads")
    assert "Received 2 file(s)" in page.locator("#upload-status").inner_text()
    assert sorted(p.name for p in (ws / "inbox" / "staff1").iterdir()) == ["alex_lacamoire1.jpg", "kit_with_rose.jpg"]
    page.goto(server.url + "uploads")
    assert [s.inner_text() for s in page.locator("#my-uploads td.status").all()] == ["waiting", "waiting"]
    invoke(ws, "watch", "--once")           # the inbox watcher takes them
    page.reload()
    rows = {r.locator("td").first.inner_text(): (r.locator("td.status").inner_text(), r.locator("td").nth(3).inner_text())
            for r in page.locator("#my-uploads tbody tr").all()}
    # blocked (a never-publish pupil in it), but staff are not told why: that is the safeguarding lead's
    assert rows["kit_with_rose.jpg"][0] == "blocked" and "will not be published" in rows["kit_with_rose.jpg"][1]
    assert "never" not in rows["kit_with_rose.jpg"][1]
    assert rows["alex_lacamoire1.jpg"][0] == "released" and rows["alex_lacamoire1.jpg"][1]
    page.context.close()
    # nobody else's uploads: another staff member sees none of these
    cli(ws, "users", "add", "staff2", "--role", "staff", "--password-stdin", input=PASSWORD + "\n")
    other = browser.new_context().new_page()
    other.goto(server.url + "login")
    other.fill("input[name=username]", "staff2")
    other.fill("input[name=password]", PASSWORD)
    other.click("button[type=submit]")
    other.goto(server.url + "uploads")
    assert "You have not uploaded anything yet." in other.locator("#my-uploads").inner_text()
    other.context.close()
    assert {r["uploader"] for r in query(ws, "SELECT uploader FROM uploads")} == {"staff1"}
    assert json.loads(query(ws, "SELECT detail FROM events WHERE kind='upload' LIMIT 1")[0]["detail"])["source"] \
        .startswith("inbox/staff1/")


def test_serve_refuses_a_port_in_use_in_one_sentence(ws):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        r = cli(ws, "serve", "--port", s.getsockname()[1], expect=2)
        assert "choose another port" in r.output and "Traceback" not in r.output
    finally:
        s.close()
    r = cli(ws, "serve", "--tls-cert", "only-one.pem", expect=2)
    assert "go together" in r.output
