"""/activity: the audit trail (events), newest first, paginated."""
from __future__ import annotations

import json

from flask import Blueprint, g, render_template, request

from console.views._common import page_number

bp = Blueprint("activity", __name__)
PER_PAGE = 100


@bp.get("/activity")
def log():
    pg = page_number(request.args.get("page"))
    who = (request.args.get("who") or "").strip()
    where, args = (" WHERE actor=?", [who]) if who else ("", [])
    if pg > 1:  # a page past the end shows the last page (and the offset stays within SQLite's range)
        total = g.ws.db.execute("SELECT count(*) FROM events" + where, args).fetchone()[0]
        pg = min(pg, max(1, -(-total // PER_PAGE)))
    rows = g.ws.db.execute("SELECT id, at, actor, kind, person_id, detail FROM events" + where +
                           " ORDER BY id DESC LIMIT ? OFFSET ?", (*args, PER_PAGE + 1, (pg - 1) * PER_PAGE))
    events = []
    for r in rows:
        try:
            detail = json.loads(r["detail"] or "{}")
        except ValueError:
            detail = {}
        events.append({**dict(r), "detail": ", ".join(f"{k}: {v}" for k, v in detail.items())[:400]})
    more = len(events) > PER_PAGE
    return render_template("activity.html", events=events[:PER_PAGE], page=pg, more=more, who=who)
