"""/users: accounts for the administrator (the same functions as 'pipeline users ...')."""
from __future__ import annotations

from flask import Blueprint, g, render_template, request, url_for

from console import accounts
from console.views._common import done

bp = Blueprint("users", __name__)


@bp.get("/users")
def page():
    return render_template("users.html", users=accounts.list_users(g.ws.db), roles=accounts.ROLES,
                           min_password=accounts.MIN_PASSWORD, faces_role=accounts.FACES_ROLE)


def _run(action, message: str):
    try:
        action()
    except accounts.AccountError as exc:
        return done(str(exc), url_for("users.page"), ok=False)
    return done(message, url_for("users.page"))


@bp.post("/users/add")
def add():
    name, role = request.form.get("name", ""), request.form.get("role", "")
    return _run(lambda: accounts.add_user(g.ws.db, name, role, request.form.get("password", ""), actor=g.user.name,
                                                from_console=True),
                f"Account {name} ({role}) added.")


@bp.post("/users/<name>/role")
def set_role(name: str):
    role = request.form.get("role", "")
    return _run(lambda: accounts.set_role(g.ws.db, name, role, actor=g.user.name, from_console=True),
                f"{name} is now {role}.")


@bp.post("/users/<name>/disable")
def disable(name: str):
    if name.lower() == g.user.name.lower():
        return done("You cannot disable your own account.", url_for("users.page"), ok=False)
    return _run(lambda: accounts.disable_user(g.ws.db, name, actor=g.user.name), f"{name} can no longer sign in.")


@bp.post("/users/<name>/password")
def reset(name: str):
    return _run(lambda: accounts.reset_password(g.ws.db, name, request.form.get("password", ""), actor=g.user.name,
                                                from_console=True),
                f"New password set for {name}; their open sessions were ended.")


@bp.post("/users/<name>/enable")
def enable(name: str):
    return _run(lambda: accounts.enable_user(g.ws.db, name, actor=g.user.name), f"{name} can sign in again.")
