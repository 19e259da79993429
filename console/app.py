"""The console's Flask app: sign-in, the role table enforced on every request, strict security headers.

``create_app(root)`` builds the app for the workspace at ``root``. Every request opens the workspace,
finds the signed-in account from the server-side session (``console.signin``) and checks the route
against ``console.access.ROUTES`` before any view runs: without a session a page redirects to
/login and an image or file answers 401; a role without the right gets 403. Nothing here looks at
the Host header or at forwarded-address headers.
"""
from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, abort, flash, g, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from console import access
from console.accounts import ensure_schema
from console.signin import SignedIn, secret_key, session_account
from pipeline.workspace import open_workspace

CSP = ("default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


class _SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over HTTPS (or the app says so)."""

    def get_cookie_secure(self, app):
        return bool(app.config["SESSION_COOKIE_SECURE"] or (request and request.is_secure))


def create_app(root: Path | str, *, secure_cookies: bool = False) -> Flask:
    """The console for the workspace at ``root``. ``secure_cookies``: served over TLS (--tls-cert)."""
    root = Path(root)
    ws = open_workspace(root)
    try:
        ensure_schema(ws.db)
        key = secret_key(ws.db)
        idle = int(ws.config["console"]["idle_minutes"]) * 60
        max_mb = float(ws.config["console"]["upload_max_mb"])
    finally:
        ws.close()
    app = Flask(__name__, template_folder="templates", static_folder="static")
    app.session_interface = _SessionInterface()
    app.config.update(
        SECRET_KEY=key,
        WORKSPACE=root,
        IDLE_SECONDS=idle,
        SESSION_COOKIE_NAME="console_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=secure_cookies,
        SESSION_REFRESH_EACH_REQUEST=False,
        WTF_CSRF_TIME_LIMIT=None,            # the token lives as long as the (server-side) session
        WTF_CSRF_SSL_STRICT=False,           # Referer checks need the Host header; the token suffices
        MAX_CONTENT_LENGTH=int(max_mb * 1024 * 1024 * 4) + 1024 * 1024,  # a few files per upload
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    logins = LoginManager(app)
    logins.session_protection = None  # the session is checked server-side on every request instead

    @logins.user_loader
    def _load(token):
        account = session_account(g.ws.db, token, idle_seconds=idle)
        return None if account is None else SignedIn(account, token)

    from console.views import activity, auth, gallery, register, review, takedowns, uploads, users
    from console.views._common import IdConverter

    app.url_map.converters["int"] = IdConverter  # every id in a URL: an id beyond SQLite's range is 404
    for module in (auth, review, gallery, takedowns, register, uploads, activity, users):
        app.register_blueprint(module.bp)

    @app.before_request
    def _gate():
        g.ws = open_workspace(root)
        g.user = current_user if current_user.is_authenticated else None
        if g.user is None and "_user_id" in session:
            session.clear()  # ended, idle or disabled: sign in again
        endpoint = request.endpoint
        if endpoint is None:  # no such URL or method: say so only to someone signed in
            if g.user is None:
                return _unauthenticated(endpoint)
            return None
        if access.allowed(endpoint, g.user.role if g.user else None):
            return None
        if g.user is None:
            return _unauthenticated(endpoint)
        abort(403)

    CSRFProtect(app)  # after the gate: who may not use a route is refused before the form is looked at

    def _unauthenticated(endpoint):
        if endpoint in access.FILES:
            return Response("Sign in first.\n", status=401, mimetype="text/plain",
                            headers={"WWW-Authenticate": 'Form realm="console"'})
        if request.method != "GET":  # e.g. a form sent after the session ended: nothing was done
            flash("Your session had ended, so nothing was changed. Sign in again, then try once more.", "error")
            return redirect(url_for("auth.login"), code=303)
        target = request.full_path if request.query_string else request.path
        return redirect(url_for("auth.login", next=target), code=302)

    @app.teardown_request
    def _close(exc):
        ws = g.pop("ws", None)
        if ws is not None:
            ws.close()

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers.setdefault("Cache-Control", "no-store")
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        if request.is_secure:
            resp.headers["Strict-Transport-Security"] = "max-age=31536000"
        return resp

    @app.context_processor
    def _nav():
        user = g.get("user")
        role = user.role if user else None
        takedowns = []
        if role and access.allowed("takedowns.list", role) and g.get("ws") is not None:
            from pipeline.consent_changes.propagate import list_takedowns

            takedowns = list_takedowns(g.ws)
        return {"user": user, "can": lambda endpoint: access.allowed(endpoint, role),
                "nav": [(e, label) for e, label in access.NAV if role and access.allowed(e, role)],
                "open_takedowns": takedowns}

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return render_template("error.html", title="Form expired",
                               message="This form has expired or did not come from this console. "
                                       "Go back, reload the page and try again."), 400

    @app.errorhandler(403)
    def _forbidden(exc):
        return render_template("error.html", title="Not for your role",
                               message="Your account's role does not include this page. "
                                       "Ask the console's administrator if you need it."), 403

    @app.errorhandler(404)
    def _missing(exc):
        return render_template("error.html", title="Not found",
                               message="There is nothing here (it may have been decided or removed already)."), 404

    @app.errorhandler(500)
    def _broken(exc):
        return render_template("error.html", title="Something went wrong",
                               message="The console could not do that. Nothing was decided; try again, and if it "
                                       "happens again tell the person who runs the console."), 500

    @app.errorhandler(413)
    def _too_big(exc):
        return render_template("error.html", title="Too large",
                               message="What you sent is too large. Send fewer or smaller files at a time."), 413

    return app


__all__ = ["create_app", "CSP"]
