"""`pipeline review serve`: the review queue as a local web page (Flask + Jinja2 templates).

* Bound to 127.0.0.1 by default; requests naming any other host are refused (DNS-rebinding).
* Every form carries a CSRF token (Flask-WTF ``CSRFProtect``); a POST without it is refused.
* No external assets: inline CSS, images served by this app only — the redacted preview from
  review/, and the face in question cropped from the original (never cached, never on disk).
* Content-Security-Policy forbids scripts, frames and any other origin.
"""
from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect

from pipeline.review import queue as rv
from pipeline.context import RunContext
from pipeline.errors import UserError
from pipeline.consent_changes.rerender import OriginalMissing
from pipeline.workspace import open_workspace

CSP = ("default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


def create_app(root: Path | str, *, actor: str, trusted_hosts: list[str] | None = None) -> Flask:
    """The review web app for the workspace at ``root``; decisions are recorded as ``actor``."""
    app = Flask(__name__, template_folder="templates")
    app.select_jinja_autoescape = lambda filename: True  # type: ignore[method-assign]  (.j2 templates too)
    app.config.update(
        SECRET_KEY=os.urandom(32),
        TRUSTED_HOSTS=trusted_hosts or ["127.0.0.1", "localhost", "::1"],
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,  # valid for the life of this server (the key changes on restart)
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    CSRFProtect(app)
    root = Path(root)

    @app.before_request
    def _open():
        g.ws = open_workspace(root)
        g.ctx = RunContext(g.ws)

    @app.teardown_request
    def _close(exc):
        ws = g.pop("ws", None)
        if ws is not None:
            ws.close()

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["X-Frame-Options"] = "DENY"
        return resp

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return render_template("review_error.html.j2", message="This form has expired or did not come from "
                               "the review page. Go back to the queue and try again.", actor=actor), 400

    @app.get("/")
    def queue():
        items = rv.held_images(g.ws, g.ctx)
        return render_template("review.html.j2", items=items, people=rv.register_choices(g.ws, g.ctx),
                               actor=actor, workspace=str(root.resolve()))

    @app.get("/image/<int:job_id>/preview.jpg")
    def preview(job_id: int):
        try:
            return Response(rv.preview_bytes(g.ws, job_id), mimetype="image/jpeg")
        except UserError:
            abort(404)

    @app.get("/image/<int:job_id>/face/<int:face>.jpg")
    def face_image(job_id: int, face: int):
        try:
            return Response(rv.face_crop(g.ws, job_id, face), mimetype="image/jpeg")
        except (UserError, OriginalMissing):
            abort(404)

    @app.post("/image/<int:job_id>/face/<int:face>")
    def identify(job_id: int, face: int):
        person = (request.form.get("person") or "").strip()
        if not person:
            flash(f"Image {job_id}: choose who face {face} is first.", "error")
            return redirect(url_for("queue"))
        return _decide(lambda: rv.identify(g.ws, job_id, face, person, actor=actor, ctx=g.ctx),
                       lambda r: (f"Image {job_id} is now blocked: {r['reason']}." if r["status"] == "blocked"
                                  else f"Image {job_id}: face {face} recorded as {person}. "
                                       "It stays here until you release or block it."))

    @app.post("/image/<int:job_id>/release")
    def release(job_id: int):
        return _decide(lambda: rv.release(g.ws, job_id, actor=actor, ctx=g.ctx),
                       lambda r: f"Image {job_id} released ({r['reason']}).")

    @app.post("/image/<int:job_id>/block")
    def block(job_id: int):
        return _decide(lambda: rv.block(g.ws, job_id, actor=actor),
                       lambda r: f"Image {job_id} blocked: nothing from it will be released.")

    def _decide(action, message):
        try:
            flash(message(action()), "ok")
        except UserError as exc:
            flash(str(exc), "error")
        return redirect(url_for("queue"), code=303)

    return app


def serve(root: Path | str, *, host: str = "127.0.0.1", port: int = 8765, actor: str, ready=None) -> None:
    """Run the review page until Ctrl+C (or the process is stopped). ``ready(url)`` is called once listening."""
    from werkzeug.serving import make_server

    hosts = ["127.0.0.1", "localhost", "::1"]
    if host not in hosts:
        hosts.append(host)
    app = create_app(root, actor=actor, trusted_hosts=hosts)
    try:
        server = make_server(host, port, app, threaded=True)
    except (OSError, SystemExit) as exc:  # werkzeug prints its own note and exits when the port is taken
        why = getattr(exc, "strerror", None) or "the address is in use or not available"
        raise UserError(f"Cannot listen on {host}:{port} ({why}); choose another port with --port.") from None
    shown = f"[{host}]" if ":" in host else host
    if ready:
        ready(f"http://{shown}:{server.server_port}/")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
