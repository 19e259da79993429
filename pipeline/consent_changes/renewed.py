"""Renewed consent: released photos that blur a person only because of a refusal since reversed.

When ``consent set P --status granted`` (one channel or all) makes P granted again, every released
photo in which P was identified (or confirmed by a reviewer) and is blurred on such a channel, while
the register now says "keep", becomes a "consent renewed" item of the review queue. Nothing is
released automatically: a person decides.

* ``queue_renewed(ws, P, before, actor=…)`` — find and record them (``renewals`` rows);
* ``items(ws)`` — the pending ones, as review-queue records (``kind`` = "consent renewed");
* ``release(ws, job_id, actor=…)`` — re-render each live output from the verified original with P's
  face shown where the register says keep *now*, every other face exactly as released;
* ``dismiss(ws, job_id, actor=…)`` — leave the photo as it is.

Every decision is recorded (renewals, output_changes, events). If consent was withdrawn again
meanwhile, release shows nobody and says so.
"""
from __future__ import annotations

import json

from consent.database import now_iso, transaction
from consent.register import Person, record_event
from pipeline.context import RunContext
from pipeline.errors import UserError
from pipeline.consent_changes.originals import record_changed_original
from pipeline.render import render_channels
from pipeline.text_in_picture import stored_texts
from pipeline.consent_changes.rerender import (OriginalChanged, OriginalMissing, decode_original, load_faces, original_bytes,
                               redecided, render_lock, save_decisions, update_result)

KIND = "consent renewed"


def _who(face: dict) -> str | None:
    c = face.get("confirmed")
    if c:
        return None if c == "unknown" else c
    return face.get("person") if face.get("match") == "identified" else None


def _unblur_plan(stored: list[dict], work: list[dict], people: set[str], channels: list[str]) -> dict[int, list[str]]:
    """{face idx: channels} where a face of ``people`` is blurred but the register now says keep."""
    plan: dict[int, list[str]] = {}
    for s, w in zip(stored, work):
        if _who(s) not in people:
            continue
        chans = [ch for ch in channels if s["decisions"].get(ch) == "blur" and w["decisions"].get(ch) == "keep"]
        if chans:
            plan[s["idx"]] = chans
    return plan


def queue_renewed(ws, person_id: str, before: Person, *, actor: str, ctx: RunContext | None = None) -> list[int]:
    """Record a "consent renewed" item for each released photo that now blurs ``person_id`` needlessly."""
    ctx = (ctx or RunContext(ws)).refresh()
    today = ctx.today()
    now = ctx.people.get(person_id)
    if now is None or now.forgotten:
        return []
    renewed = [ch for ch in ctx.channels
               if before.effective_status(ch, today) != "granted" and now.effective_status(ch, today) == "granted"]
    if not renewed:
        return []
    conn = ws.db
    jobs = [r[0] for r in conn.execute(
        "SELECT DISTINCT f.job_id FROM faces f JOIN jobs j ON j.id = f.job_id"
        " WHERE j.status='released' AND (f.person_id=? OR f.confirmed_person=?)"
        " AND EXISTS (SELECT 1 FROM outputs o WHERE o.job_id = j.id AND o.state='live') ORDER BY f.job_id",
        (person_id, person_id))]
    queued = []
    at = now_iso()
    for job_id in jobs:
        live = [r[0] for r in conn.execute("SELECT channel FROM outputs WHERE job_id=? AND state='live'", (job_id,))]
        stored = load_faces(conn, job_id)
        plan = _unblur_plan(stored, redecided(stored, ctx), {person_id}, [c for c in renewed if c in live])
        if not plan:
            continue
        channels = sorted({c for chans in plan.values() for c in chans})
        with transaction(conn):
            pending = conn.execute("SELECT id, channels FROM renewals WHERE job_id=? AND person_id=? AND"
                                   " decided_at IS NULL", (job_id, person_id)).fetchone()
            if pending:
                merged = sorted(set(json.loads(pending["channels"])) | set(channels))
                conn.execute("UPDATE renewals SET channels=? WHERE id=?", (json.dumps(merged), pending["id"]))
            else:
                conn.execute("INSERT INTO renewals(job_id, person_id, channels, created_at) VALUES (?,?,?,?)",
                             (job_id, person_id, json.dumps(channels), at))
            record_event(conn, "review.renewed", actor, person_id, {"job_id": job_id, "channels": channels}, at=at)
        queued.append(job_id)
    return queued


def pending(conn, job_id: int) -> list:
    return conn.execute("SELECT * FROM renewals WHERE job_id=? AND decided_at IS NULL ORDER BY id",
                        (job_id,)).fetchall()


def items(ws) -> list[dict]:
    """Pending "consent renewed" items, as review-queue records."""
    out = []
    rows = ws.db.execute("SELECT r.*, j.source, j.received_at FROM renewals r JOIN jobs j ON j.id = r.job_id"
                         " WHERE r.decided_at IS NULL AND j.status='released' ORDER BY r.job_id, r.id").fetchall()
    by_job: dict[int, list] = {}
    for r in rows:
        by_job.setdefault(r["job_id"], []).append(r)
    for job_id, rs in by_job.items():
        who = ", ".join(f"{r['person_id']} on {', '.join(json.loads(r['channels']))}" for r in rs)
        out.append({
            "id": job_id, "kind": KIND, "source": rs[0]["source"], "received_at": rs[0]["received_at"],
            "reason": f"consent renewed: {who} now granted; the released photo still blurs them there",
            "preview": None, "faces": [], "ready": True,
            "on_release": f"re-rendered from the original showing {who}; every other face stays as released",
            "decisions": [], "copies": [], "people": [r["person_id"] for r in rs],
        })
    return out


def release(ws, job_id: int, *, actor: str, ctx: RunContext | None = None) -> dict:
    """Re-render a released photo showing the people whose consent was renewed (where it counts today)."""
    with render_lock(ws):
        return _release(ws, job_id, actor=actor, ctx=ctx)


def _release(ws, job_id: int, *, actor: str, ctx) -> dict:
    ctx = (ctx or RunContext(ws)).refresh()
    conn = ws.db
    rows = pending(conn, job_id)
    job = conn.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
    if not rows or job is None:
        raise UserError(f"Image {job_id} has no 'consent renewed' decision waiting.")
    people = {r["person_id"] for r in rows}
    outputs = conn.execute("SELECT * FROM outputs WHERE job_id=? AND state='live' ORDER BY channel",
                           (job_id,)).fetchall()
    stored = load_faces(conn, job_id)
    work = redecided(stored, ctx)
    plan = _unblur_plan(stored, work, people, [o["channel"] for o in outputs]) if job["status"] == "released" else {}
    at = now_iso()
    if not plan:
        _settle(conn, rows, "superseded", actor, at)
        raise UserError(f"Image {job_id} was left as it is: nobody's consent counts as granted there any more "
                        "(it changed again, or the photo is no longer released).")
    try:
        image = decode_original(ws, job, original_bytes(ws, job))
    except OriginalChanged as exc:
        with transaction(conn):
            record_changed_original(conn, job, exc, actor=actor, during="consent renewed")
        raise UserError(f"Image {job_id} was not re-rendered: {exc}. The released photo stays as it is "
                        "(blurred); the renewal is still waiting.") from None
    except OriginalMissing as exc:
        raise UserError(f"Image {job_id} cannot be shown un-blurred: {exc}. The released photo stays as it is.") from None
    final = []
    for s in stored:
        decisions = dict(s["decisions"])
        for ch in plan.get(s["idx"], []):
            decisions[ch] = "keep"
        final.append({**s, "decisions": decisions})
    changed_channels = sorted({c for chans in plan.values() for c in chans})
    new_sha = {}
    for o in outputs:
        if o["channel"] in changed_channels:
            _, shas = render_channels(ws, image, final, [o["channel"]], "", {o["channel"]: o["caption"] or ""},
                                      existing={o["channel"]: o["path"]}, texts=stored_texts(job))
            new_sha[o["id"]] = shas[o["channel"]]
    with transaction(conn):
        save_decisions(conn, job_id, final)
        for o in outputs:
            if o["id"] in new_sha:
                conn.execute("UPDATE outputs SET sha256=?, updated_at=? WHERE id=?", (new_sha[o["id"]], at, o["id"]))
                conn.execute(
                    "INSERT INTO output_changes(output_id, job_id, channel, action, old_sha256, new_sha256, people,"
                    " cause, at, actor) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (o["id"], job_id, o["channel"], "rerendered", o["sha256"], new_sha[o["id"]],
                     json.dumps(sorted(people)), KIND, at, actor))
        update_result(conn, job, final)
        _settle(conn, rows, "released", actor, at)
        record_event(conn, "review.renewed_release", actor, None,
                     {"job_id": job_id, "people": sorted(people), "channels": changed_channels}, at=at)
    record = json.loads(conn.execute("SELECT result_json FROM jobs WHERE id=?", (job_id,)).fetchone()[0])
    record.update(job_id=job_id, status="released", kind=KIND, rerendered=changed_channels,
                  reason=f"re-rendered showing {', '.join(sorted(people))} on {', '.join(changed_channels)} "
                         f"(consent renewed, released on review by {actor})")
    return record


def dismiss(ws, job_id: int, *, actor: str) -> dict:
    """Leave the released photo as it is (the person stays blurred there)."""
    rows = pending(ws.db, job_id)
    if not rows:
        raise UserError(f"Image {job_id} has no 'consent renewed' decision waiting.")
    at = now_iso()
    with transaction(ws.db):
        _settle(ws.db, rows, "dismissed", actor, at)
        record_event(ws.db, "review.renewed_dismiss", actor, None, {"job_id": job_id}, at=at)
    return {"id": job_id, "status": "released", "kind": KIND,
            "reason": f"left as released (blurred) by {actor}"}


def _settle(conn, rows, decision: str, actor: str, at: str) -> None:
    with transaction(conn) if not conn.in_transaction else _nullcontext():
        conn.executemany("UPDATE renewals SET decided_at=?, decision=?, actor=? WHERE id=?",
                         [(at, decision, actor, r["id"]) for r in rows])


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
