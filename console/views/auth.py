"""/healthz, /login, /logout and / (each role's start page)."""
from __future__ import annotations

from flask import Blueprint, Response, g, redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user

from console import access
from console.signin import FAILED, SignedIn, sign_in, sign_out

bp = Blueprint("auth", __name__)


@bp.get("/healthz")
def healthz():
    return Response("ok", mimetype="text/plain")


def _safe_next(target: str | None) -> str | None:
    """Only a path on this console (never another site, whatever the Host header says)."""
    if (not target or len(target) > 500 or not target.startswith("/") or target.startswith("//")
            or "\\" in target or any(ord(c) < 33 or ord(c) == 127 for c in target)):
        return None  # browsers drop tabs and newlines: "/\t/evil.example" would become "//evil.example"
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("login.html", next=_safe_next(request.args.get("next")) or "", error=None)
    name = (request.form.get("username") or "")[:200]
    password = (request.form.get("password") or "")[:1024]
    result = sign_in(g.ws.db, name, password, client=request.remote_addr or "")
    if result is None:
        return render_template("login.html", next=_safe_next(request.form.get("next")) or "",
                               error=FAILED, username=name), 401
    account, token = result
    session.clear()  # a fresh session (and CSRF token) after signing in
    login_user(SignedIn(account, token), remember=False)
    target = _safe_next(request.form.get("next")) or url_for(access.HOME[account.role])
    return redirect(target, code=303)


@bp.post("/logout")
def logout():
    sign_out(g.ws.db, g.user.token, actor=g.user.name)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"), code=303)


@bp.get("/")
def home():
    return redirect(url_for(access.HOME[g.user.role]))
