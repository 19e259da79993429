"""/activity: the audit trail (events), newest first, paginated."""
from __future__ import annotations

import json

from flask import Blueprint, g, render_template, request

bp = Blueprint("activity", __name__)
PER_PAGE = 100


@bp.get("/activity")
def log():
    pg = request.args.get("page", "1")
    pg = max(1, int(pg)) if pg.isdigit() else 1
    who = (request.args.get("who") or "").strip()
    sql, args = "SELECT id, at, actor, kind, person_id, detail FROM events", []
    if who:
        sql += " WHERE actor=?"
        args.append(who)
    rows = g.ws.db.execute(sql + " ORDER BY id DESC LIMIT ? OFFSET ?", (*args, PER_PAGE + 1, (pg - 1) * PER_PAGE))
    events = []
    for r in rows:
        try:
            detail = json.loads(r["detail"] or "{}")
        except ValueError:
            detail = {}
        events.append({**dict(r), "detail": ", ".join(f"{k}: {v}" for k, v in detail.items())[:400]})
    more = len(events) > PER_PAGE
    return render_template("activity.html", events=events[:PER_PAGE], page=pg, more=more, who=who)
