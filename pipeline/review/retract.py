"""Taking back a released photo (the safeguarding lead's decision): every released file of it is
removed, the photo counts as blocked, and every copy handed out becomes a takedown.

The reason given is kept in the audit trail only: the staff who uploaded the photo and the comms
lead see that it was taken back, not why (it may be a safeguarding matter)."""
from __future__ import annotations

from consent.database import now_iso, transaction
from consent.register import record_event
from pipeline.consent_changes.propagate import raise_takedowns
from pipeline.consent_changes.rerender import job_row, render_lock, update_result
from pipeline.delivery.gallery import prune_thumbnails
from pipeline.errors import UserError


def released_recently(ws, *, limit: int = 50) -> list[dict]:
    """The newest released photos (id, source, when, why), for choosing one to take back."""
    rows = ws.db.execute(
        "SELECT j.id, j.source, j.reason, max(o.created_at) AS released_at FROM jobs j JOIN outputs o ON o.job_id=j.id "
        "WHERE j.status='released' AND o.state='live' GROUP BY j.id ORDER BY released_at DESC, j.id DESC LIMIT ?",
        (limit,)).fetchall()
    return [dict(r) for r in rows]


def retract(ws, job_id: int, *, actor: str, reason: str) -> dict:
    """Take back released photo ``job_id``: files removed from approved/, status blocked, takedowns raised.

    Returns {"id", "source", "status", "reason", "takedowns": [...]}. UserError when it is not released.
    """
    reason = (reason or "").strip()
    if not reason:
        raise UserError("Give a reason for taking the photo back, e.g. 'parent phoned: child in care'.")
    with render_lock(ws):  # never at the same time as a re-render of the same photo
        job = job_row(ws.db, job_id)
        if job["status"] != "released":
            raise UserError(f"Image {job_id} ({job['source']}) is not released (it is {job['status'] or 'being processed'}); "
                            "there is nothing to take back.")
        outputs = ws.db.execute("SELECT * FROM outputs WHERE job_id=? AND state='live' ORDER BY channel",
                                (job_id,)).fetchall()
        for o in outputs:  # files first: if anything fails after this, nothing of the photo is left out
            path = ws.root / o["path"]
            path.unlink(missing_ok=True)
            path.with_suffix(".txt").unlink(missing_ok=True)
        at = now_iso()
        why = f"taken back by the safeguarding lead ({actor})"  # their reason stays in the audit trail
        takedowns = []
        with transaction(ws.db):
            for o in outputs:
                ws.db.execute("UPDATE outputs SET state='retracted', updated_at=? WHERE id=?", (at, o["id"]))
                cur = ws.db.execute(
                    "INSERT INTO output_changes(output_id, job_id, channel, action, old_sha256, new_sha256, people,"
                    " cause, at, actor) VALUES (?,?,?,'retracted',?,NULL,'[]','retracted on review',?,?)",
                    (o["id"], job_id, o["channel"], o["sha256"], at, actor))
                takedowns += raise_takedowns(ws.db, o, cur.lastrowid, "retracted", why, at)
            status_reason = f"blocked after release: {why}"
            ws.db.execute("UPDATE jobs SET status='blocked', reason=? WHERE id=?", (status_reason, job_id))
            update_result(ws.db, job, status="blocked", reason=status_reason, outputs={}, captions={})
            ws.db.execute("INSERT INTO review_decisions(job_id, face_idx, decision, person_id, at, actor) "
                          "VALUES (?,?,?,?,?,?)", (job_id, None, "block", None, at, actor))
            record_event(ws.db, "review.retract", actor, None,
                         {"job_id": job_id, "reason": reason, "outputs": [o["id"] for o in outputs],
                          "takedowns": [t["id"] for t in takedowns]}, at=at)
    for channel in {o["channel"] for o in outputs}:
        prune_thumbnails(ws, channel)
    return {"id": job_id, "source": job["source"], "status": "blocked", "reason": status_reason,
            "takedowns": takedowns}


__all__ = ["retract", "released_recently"]
