"""/takedowns: copies handed out before that a consent change made out of date (pipeline.propagate)."""
from __future__ import annotations

from flask import Blueprint, g, render_template, url_for

from console.views._common import done
from pipeline.consent_changes.propagate import list_takedowns, mark_takedown_done

bp = Blueprint("takedowns", __name__)


@bp.get("/takedowns")
def list():  # noqa: A001 - the route's name
    return render_template("takedowns.html", takedowns=list_takedowns(g.ws))


@bp.post("/takedowns/<int:takedown_id>/done", endpoint="done")
def done_view(takedown_id: int):
    if not mark_takedown_done(g.ws, takedown_id, actor=g.user.name):
        return done(f"Takedown #{takedown_id} is not open (already done?).", url_for("takedowns.list"), ok=False)
    return done(f"Takedown #{takedown_id} recorded as done. Thank you.", url_for("takedowns.list"))
