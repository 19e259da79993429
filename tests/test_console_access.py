"""The console's gate: the route x role matrix built from the one table (console.access.ROUTES), every
image URL as every role, sign-in throttling, CSRF, cookie flags, idle timeout and the Host header."""
from __future__ import annotations

import time

import pytest

from console import access
from tests.console_helpers import (BASE, PASSWORD, ROLES, cli, console_workspace, csrf_of, held, make_client, sign_in,
                                   user_for)
from tests.review_helpers import invoke, query

SAMPLE = {"job_id": 999999, "n": 1, "person": "nobody_here", "channel": "website", "output_id": 999999,
          "takedown_id": 999999, "name": "nobody_here", "filename": "console.css"}
WHO = (None, *ROLES)


@pytest.fixture
def ws(tmp_path_factory, tmp_path):
    return console_workspace(tmp_path_factory, tmp_path)


def _routes(app):
    """(endpoint, method, url) of every route of the app, sign-out last."""
    out = []
    with app.test_request_context(base_url=BASE):
        from flask import url_for

        for rule in app.url_map.iter_rules():
            method = "GET" if "GET" in rule.methods else "POST"
            url = url_for(rule.endpoint, **{a: SAMPLE[a] for a in rule.arguments})
            out.append((rule.endpoint, method, url))
    return sorted(out, key=lambda r: (r[0] == "auth.logout", r[0]))


def test_every_route_is_in_the_one_table_and_nothing_else_is(ws):
    app, _ = make_client(ws)
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints == set(access.ROUTES), (endpoints ^ set(access.ROUTES))
    assert access.FILES <= endpoints
    # the contract's fixed URLs exist
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    for url in ("/healthz", "/login", "/logout", "/review", "/approved/<channel>", "/takedowns", "/register",
                "/upload", "/uploads", "/activity", "/users", "/review/<int:job_id>/face/<int:n>.jpg"):
        assert url in rules, url


@pytest.mark.parametrize("who", WHO)
def test_route_role_matrix(ws, who):
    """Every route as this role (or with no session) answers as the table says."""
    app, client = make_client(ws)
    if who is not None:
        assert sign_in(client, user_for(who)).status_code == 303
    token = csrf_of(client) if who is not None else None
    checked = 0
    for endpoint, method, url in _routes(app):
        data = {"csrf_token": token} if token and method == "POST" else {}
        resp = client.open(url, method=method, data=data, base_url=BASE)
        where = resp.headers.get("Location", "")
        role = who
        if access.allowed(endpoint, role):
            assert resp.status_code not in (401, 403), (who, endpoint, resp.status_code)
            assert not (resp.status_code == 302 and where.startswith("/login")), (who, endpoint, where)
        elif role is None:
            if endpoint in access.FILES:
                assert resp.status_code == 401, (endpoint, resp.status_code)
            else:  # a page: to the sign-in form (a form sent without a session: the same, nothing done)
                assert resp.status_code in (302, 303) and where.startswith("/login"), (endpoint, resp.status_code)
        else:
            assert resp.status_code == 403, (who, endpoint, resp.status_code)
        checked += 1
    assert checked == len(access.ROUTES)


def _image_urls(ws) -> list[tuple[str, str, bool]]:
    """(endpoint, url, is an un-redacted face) for every image URL of the workspace."""
    [item] = held(ws)
    urls = [("review.preview", f"/review/{item['id']}/preview.jpg", False)]
    for f in item["faces"]:
        urls.append(("review.face", f"/review/{item['id']}/face/{f['face']}.jpg", f["needs_review"]))
    for person in ("obama", "biden", "rose_leslie"):
        urls.append(("review.reference", f"/review/reference/{person}.jpg", True))
    for row in query(ws, "SELECT id, channel FROM outputs WHERE state='live'"):
        urls.append(("gallery.thumb", f"/approved/{row['channel']}/{row['id']}/thumb.jpg", False))
        urls.append(("gallery.download", f"/approved/{row['channel']}/{row['id']}/download", False))
    return urls


def test_every_image_url_as_every_role(ws):
    urls = _image_urls(ws)
    faces_in_question = [u for e, u, face in urls if e == "review.face" and face]
    assert faces_in_question and any(e == "review.face" and not face for e, _, face in urls)
    served_faces = {}
    for who in WHO:
        _, client = make_client(ws)
        if who is not None:
            sign_in(client, user_for(who))
        for endpoint, url, is_face in urls:
            resp = client.get(url, base_url=BASE)
            if who is None:
                assert resp.status_code == 401, (url, resp.status_code)
            elif not access.allowed(endpoint, who):
                assert resp.status_code == 403, (who, url, resp.status_code)
                assert resp.mimetype != "image/jpeg"
            else:
                assert resp.status_code in (200, 404), (who, url, resp.status_code)
            if resp.status_code == 200 and resp.mimetype == "image/jpeg" and endpoint in ("review.face",
                                                                                          "review.reference"):
                served_faces.setdefault(who, []).append(url)
                assert "no-store" in resp.headers["Cache-Control"]
    # un-redacted faces went to safeguarding only: every face in question, never a confident one
    assert set(served_faces) == {"safeguarding"}
    crops = [u for u in served_faces["safeguarding"] if "/face/" in u]
    assert sorted(crops) == sorted(faces_in_question)
    assert any("/reference/" in u for u in served_faces["safeguarding"])  # reference photos kept at enrolment


def test_face_crops_never_reach_the_disk_and_stop_once_decided(ws):
    [item] = held(ws)
    _, client = make_client(ws)
    sign_in(client, user_for("safeguarding"))
    before = {p: p.stat().st_mtime for p in ws.rglob("*") if p.is_file() and p.suffix != ".db" and "-wal" not in p.name
              and "-shm" not in p.name}
    face = next(f for f in item["faces"] if f["needs_review"])
    url = f"/review/{item['id']}/face/{face['face']}.jpg"
    assert client.get(url, base_url=BASE).status_code == 200
    after = {p: p.stat().st_mtime for p in ws.rglob("*") if p.is_file() and p.suffix != ".db" and "-wal" not in p.name
             and "-shm" not in p.name}
    assert after == before
    token = csrf_of(client, page="/review")
    client.post(f"/review/{item['id']}/face/{face['face']}", data={"csrf_token": token, "unknown": "1"},
                base_url=BASE)
    assert client.get(url, base_url=BASE).status_code == 404  # decided: no longer shown
    client.post(f"/review/{item['id']}/face/{face['face']}/undo", data={"csrf_token": token}, base_url=BASE)
    assert client.get(url, base_url=BASE).status_code == 200  # undone: needs a decision again
    client.post(f"/review/{item['id']}/block", data={"csrf_token": token, "confirm": "yes", "reason": "test"},
                base_url=BASE)
    assert client.get(url, base_url=BASE).status_code == 404  # no longer held


# ---------------------------------------------------------------- sign-in

def test_lockout_after_five_failures_holds_with_the_right_password(ws):
    from console.signin import FAILED

    _, client = make_client(ws)
    answers = set()
    for _ in range(5):
        r = sign_in(client, "comms1", "wrong password 123")
        assert r.status_code == 401
        answers.add(FAILED in r.get_data(as_text=True))
    r = sign_in(client, "comms1", PASSWORD)
    assert r.status_code == 401 and FAILED in r.get_data(as_text=True)   # locked: same message
    unknown = sign_in(client, "no_such_person", "whatever it is")
    assert unknown.status_code == 401 and FAILED in unknown.get_data(as_text=True)
    assert answers == {True}
    # another account from the same address is not locked by these
    assert sign_in(make_client(ws)[1], "office1").status_code == 303
    # 15 minutes later the lock is over
    from console.signin import LOCK_SECONDS, locked
    from pipeline.workspace import open_workspace

    w = open_workspace(ws)
    try:
        assert locked(w.db, "comms1", "127.0.0.1")
        assert not locked(w.db, "comms1", "127.0.0.1", time.time() + LOCK_SECONDS + 1)
    finally:
        w.close()
    # an administrator's password reset lifts it at once
    cli(ws, "users", "reset-password", "comms1", "--password-stdin", input=PASSWORD + "\n")
    assert sign_in(make_client(ws)[1], "comms1").status_code == 303


def test_one_client_address_is_throttled_across_names(ws, monkeypatch):
    from console import signin

    assert signin.CLIENT_FAILURES == 30
    monkeypatch.setattr(signin, "CLIENT_FAILURES", 6)  # the same rule with a smaller number: a faster test
    CLIENT_FAILURES = signin.CLIENT_FAILURES
    _, client = make_client(ws)
    env = {"REMOTE_ADDR": "10.9.8.7"}
    for i in range(CLIENT_FAILURES):
        assert sign_in(client, f"guess{i}", "wrong password 123", environ=env).status_code == 401
    assert sign_in(client, "staff1", environ=env).status_code == 401           # even the right one
    assert sign_in(client, "staff1", environ={"REMOTE_ADDR": "10.9.8.8"}).status_code == 303  # elsewhere: fine


def test_forms_without_the_csrf_token_are_refused(ws):
    [item] = held(ws)
    _, client = make_client(ws)
    r = client.post("/login", data={"username": "safeguarding1", "password": PASSWORD}, base_url=BASE)
    assert r.status_code == 400 and "console_session" not in r.headers.get("Set-Cookie", "") or r.status_code == 400
    sign_in(client, "safeguarding1")
    r = client.post(f"/review/{item['id']}/block", data={"confirm": "yes", "reason": "x"}, base_url=BASE)
    assert r.status_code == 400
    r = client.post(f"/review/{item['id']}/block", data={"confirm": "yes", "reason": "x", "csrf_token": "forged"},
                    base_url=BASE)
    assert r.status_code == 400
    assert [i["id"] for i in held(ws)] == [item["id"]]


def test_cookie_flags(ws):
    _, client = make_client(ws)
    r = sign_in(client, "staff1")
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie  # plain http on 127.0.0.1
    _, tls = make_client(ws, secure=True)
    cookie = sign_in(tls, "staff1").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie
    _, proxied = make_client(ws)  # https as the server sees it (a trusted TLS proxy in front)
    cookie = sign_in(proxied, "staff1", base="https://school.example").headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
    assert "remember_token" not in cookie


def test_sessions_end_on_sign_out_idle_and_disable(ws):
    _, client = make_client(ws)
    sign_in(client, "office1")
    assert client.get("/register", base_url=BASE).status_code == 200
    cookie = client.get_cookie("console_session", domain="127.0.0.1").value
    r = client.post("/logout", data={"csrf_token": csrf_of(client, page="/register")}, base_url=BASE)
    assert r.status_code == 303
    # the old cookie replayed after signing out is worth nothing (the session is ended on the server)
    _, replay = make_client(ws)
    replay.set_cookie("console_session", cookie, domain="127.0.0.1")
    assert replay.get("/register", base_url=BASE).status_code == 302
    # idle for longer than the timeout
    _, client = make_client(ws)
    sign_in(client, "office1")
    from pipeline.workspace import open_workspace

    w = open_workspace(ws)
    w.db.execute("UPDATE console_sessions SET last_seen = last_seen - 31*60")
    w.close()
    r = client.post("/register/biden/consent", data={"channel": "all", "status": "granted", "reason": "x"},
                    base_url=BASE)
    assert r.status_code == 303 and r.headers["Location"] == "/login"     # a form sent after the session ended
    assert "nothing was changed" in client.get("/login", base_url=BASE).get_data(as_text=True)
    assert query(ws, "SELECT count(*) AS n FROM consent_history WHERE reason='x'")[0]["n"] == 0
    r = client.get("/register", base_url=BASE)
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    # disabled while signed in
    _, client = make_client(ws)
    sign_in(client, "office1")
    invoke(ws, "users", "disable", "office1")
    assert client.get("/register", base_url=BASE).status_code == 302
    assert sign_in(make_client(ws)[1], "office1").status_code == 401


def test_the_host_header_opens_nothing(ws):
    [item] = held(ws)
    face = next(f for f in item["faces"] if f["needs_review"])["face"]
    _, client = make_client(ws)
    headers = {"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1", "X-Forwarded-Host": "localhost"}
    for host in ("http://localhost", "http://127.0.0.1", "http://[::1]", "http://attacker.example"):
        for url in ("/review", "/users", "/approved/website"):
            r = client.get(url, base_url=host, headers=headers)
            assert r.status_code == 302 and r.headers["Location"].startswith("/login"), (host, url)
        assert client.get(f"/review/{item['id']}/face/{face}.jpg", base_url=host, headers=headers).status_code == 401
    # after signing in, a crafted ?next= never leads to another site
    page = client.get("/login?next=//attacker.example/x", base_url="http://localhost").get_data(as_text=True)
    from tests.console_helpers import token

    r = client.post("/login", data={"username": "comms1", "password": PASSWORD, "csrf_token": token(page),
                                    "next": "//attacker.example/x"}, base_url="http://localhost")
    assert r.status_code == 303 and r.headers["Location"] == "/approved"
    from console.views.auth import _safe_next

    for evil in ("//evil.example", "/\t/evil.example", "/\\evil.example", "https://evil.example", "/\n/evil"):
        assert _safe_next(evil) is None
    assert _safe_next("/approved/website?page=2") == "/approved/website?page=2"


def test_healthz_and_security_headers(ws):
    _, client = make_client(ws)
    r = client.get("/healthz", base_url=BASE)
    assert r.status_code == 200 and r.get_data(as_text=True) == "ok"
    login = client.get("/login", base_url=BASE)
    csp = login.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    html = login.get_data(as_text=True)
    import re

    assert not re.search(r'(src|href|action)="(https?:)?//', html) and "<script>" not in html
    assert 'name="username"' in html and 'name="password"' in html and 'name="csrf_token"' in html


def test_users_cli(ws):
    r = cli(ws, "users", "add", "newbie", "--role", "comms", "--password-stdin", input="too short\n", expect=2)
    assert "at least 12 characters" in r.output and "Traceback" not in r.output
    cli(ws, "users", "add", "newbie", "--role", "comms", "--password-stdin", input=PASSWORD + "\n")
    r = cli(ws, "users", "add", "newbie", "--role", "comms", "--password-stdin", input=PASSWORD + "\n", expect=2)
    assert "already an account" in r.output
    invoke(ws, "users", "set-role", "newbie", "office")
    listed = invoke(ws, "users", "list", "--json").stdout
    assert '"name": "newbie", "role": "office", "disabled": false' in listed
    stored = query(ws, "SELECT password_hash FROM console_users WHERE name='newbie'")[0]["password_hash"]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    events = [r["kind"] for r in query(ws, "SELECT kind FROM events WHERE kind LIKE 'users.%'")]
    assert events.count("users.add") == 6 and "users.set_role" in events


def test_parallel_guesses_get_no_more_than_five_checks(ws):
    from concurrent.futures import ThreadPoolExecutor

    app, _ = make_client(ws)

    def guess(i):
        client = app.test_client()
        return sign_in(client, "admin1", f"parallel guess {i:04d}").status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(guess, range(16)))
    assert set(codes) == {401}
    kinds = [r["kind"] for r in query(ws, "SELECT kind FROM events WHERE kind LIKE 'console.sign_in%'")]
    assert kinds.count("console.sign_in_failed") == 5 and kinds.count("console.sign_in_refused") == 11
    assert sign_in(make_client(ws)[1], "admin1").status_code == 401


def test_the_server_refuses_a_body_larger_than_an_upload_before_reading_it(tmp_path_factory, tmp_path):
    # Waitress spools a request body to disk before the console can check who sent it; its own limit
    # is the console's, so nobody (signed in or not) can make it write more than an upload's worth.
    import socket

    from tests.console_helpers import Server, console_workspace

    ws = console_workspace(tmp_path_factory, tmp_path)
    cfg = ws / "pipeline.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("upload_max_mb = 200", "upload_max_mb = 1"), encoding="utf-8")
    server = Server(ws)
    try:
        port = int(server.url.rsplit(":", 1)[1].strip("/"))
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                      b"Content-Length: 104857600\r\n\r\n" + b"\0" * 65536)
            answer = s.recv(200)
        assert answer.startswith(b"HTTP/1.1 413"), answer
    finally:
        server.stop()


def test_the_console_admin_cannot_give_anyone_sight_of_faces(ws):
    # The role table keeps un-redacted faces from the admin; /users must not be a way round it: no
    # safeguarding account is added, promoted, demoted or has its password set from the console, and
    # nobody changes their own role there. On the server (the CLI) all of it stays possible.
    app, client = make_client(ws)
    sign_in(client, user_for("admin"))

    def post(path, **form):
        form["csrf_token"] = csrf_of(client, page="/users")
        return client.post(path, data=form, base_url=BASE, follow_redirects=True).get_data(as_text=True)

    page = post("/users/add", name="shadow", role="safeguarding", password=PASSWORD)
    assert "done on the server" in page and "pipeline users add shadow --role safeguarding" in page
    assert not query(ws, "SELECT 1 FROM console_users WHERE name='shadow'")
    assert "done on the server" in post("/users/comms1/role", role="safeguarding")
    assert "done on the server" in post(f"/users/{user_for('safeguarding')}/role", role="staff")
    assert "done on the server" in post(f"/users/{user_for('safeguarding')}/password", password="another long password")
    assert "your own role" in post(f"/users/{user_for('admin')}/role", role="office")
    roles = {r["name"]: r["role"] for r in query(ws, "SELECT name, role FROM console_users")}
    assert roles["comms1"] == "comms" and roles[user_for("safeguarding")] == "safeguarding" \
        and roles[user_for("admin")] == "admin"
    before = query(ws, "SELECT password_hash FROM console_users WHERE name=?", (user_for("safeguarding"),))
    page = client.get("/users", base_url=BASE).get_data(as_text=True)
    assert '<option value="safeguarding"' not in page
    # Other changes still work from the console; the server may do the rest.
    assert "office1 is now comms" in post("/users/office1/role", role="comms")
    cli(ws, "users", "add", "dsl2", "--role", "safeguarding", "--password-stdin", input=PASSWORD + "\n")
    cli(ws, "users", "set-role", "comms1", "safeguarding")
    assert query(ws, "SELECT password_hash FROM console_users WHERE name=?", (user_for("safeguarding"),)) == before


def test_a_new_password_does_not_enable_a_disabled_account(ws):
    cli(ws, "users", "disable", "staff1")
    cli(ws, "users", "reset-password", "staff1", "--password-stdin", input="a brand new password\n")
    _, client = make_client(ws)
    r = sign_in(client, "staff1", "a brand new password")
    assert not (r.status_code in (302, 303) and "/login" not in r.headers["Location"])  # still refused
    assert query(ws, "SELECT disabled_at FROM console_users WHERE name='staff1'")[0]["disabled_at"]
    app, admin = make_client(ws)
    sign_in(admin, user_for("admin"))
    token = csrf_of(admin, page="/users")
    page = admin.post("/users/staff1/enable", data={"csrf_token": token}, base_url=BASE,
                      follow_redirects=True).get_data(as_text=True)
    assert "staff1 can sign in again" in page
    assert query(ws, "SELECT disabled_at FROM console_users WHERE name='staff1'")[0]["disabled_at"] is None
    r = sign_in(make_client(ws)[1], "staff1", "a brand new password")
    assert r.status_code in (302, 303) and "/login" not in r.headers["Location"]


def test_account_commands_refuse_in_plain_words(ws):
    """Each `pipeline users` command that changes an account shows the accounts module's refusal as a
    plain error (exit 2, as every refusal of the CLI; no traceback) and changes nothing."""
    for args in (("add", "comms1", "--role", "office", "--password-stdin"), ("set-role", "nobody", "office"),
                 ("disable", "nobody"), ("enable", "nobody"), ("reset-password", "nobody", "--password-stdin")):
        result = cli(ws, "users", *args, input=PASSWORD + "\n", expect=2)
        assert "Traceback" not in result.output and result.output.strip(), (args, result.output)
    listed = cli(ws, "users", "list").output
    assert "nobody" not in listed and "comms1" in listed
