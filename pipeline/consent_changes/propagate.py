"""Consent changes reach every image already released: withdrawal, refusal, expiry, forget, never-publish.

``propagate(ws, people, cause=…, actor=…)`` finds every released image in which one of ``people``
was identified, confirmed by a reviewer, or a candidate (uncertain) — from the faces stored in the
database, without detecting faces again — decides those faces again with the register as it is now,
and for each live output:

* re-renders it from the original (same path, written atomically) when a face that was shown must
  now be redacted, or when its caption must lose a name;
* retracts it (file removed from approved/, output marked 'retracted', image 'blocked') when a face
  may now be a never-publish person — the only case where a released file goes away (and, with
  ``release_when_all_blurred = false``, a channel on which every face has just become blurred).

Redaction only ever grows here: a face redacted on a channel stays redacted, even if consent is
granted again later (that becomes a "consent renewed" review item: ``pipeline.consent_changes.renewed``).
When the original is no longer kept (purged after ``retention_days``), the released file itself is
redacted further instead. When the kept original's bytes changed (SHA-256), nothing is re-rendered
from it: every released copy is retracted and the photo held for review, with the reason recorded.

Every change is recorded (output_changes, events). Outputs the comms lead already pulled
(``pipeline pull``) become takedowns: listed in the command output and by ``pipeline pull --takedowns``.

``expire(ws)`` checks every released image against today's register (expiry dates that passed);
``expire_if_due(ws)`` does it at most once a day (for ``pipeline watch``).
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from PIL import Image

from consent.database import now_iso, transaction
from consent.register import record_event
from pipeline.context import RunContext
from pipeline.render import redacted_boxes, render_channels
from pipeline.video.rerender import ClipUnavailable, is_clip_job, rerender_clip
from pipeline.text_in_picture import stored_texts, texts_scaled
from pipeline.consent_changes.originals import hold_reason, record_changed_original
from pipeline.consent_changes.rerender import (OriginalChanged, OriginalMissing, decode_original, load_faces,
                                               original_bytes, redecided, refresh_preview, render_lock,
                                               save_decisions, update_result)
from processors.names import NamedPerson, find_names, scrub_caption
from processors.output import write_atomic

REMOVED = "[name removed]"


@dataclass
class Change:
    job_id: int
    channel: str
    path: str
    action: str                 # rerendered | retracted
    people: list[str]
    why: str

    def to_json(self) -> dict:
        return {"job_id": self.job_id, "channel": self.channel, "path": self.path, "action": self.action,
                "people": self.people, "why": self.why}


@dataclass
class PropagationReport:
    cause: str
    checked: int = 0
    changes: list[Change] = field(default_factory=list)
    takedowns: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def images_changed(self) -> int:
        return len({c.job_id for c in self.changes})

    @property
    def files_changed(self) -> int:
        return len(self.changes)

    def to_json(self) -> dict:
        return {"cause": self.cause, "images_checked": self.checked, "images_changed": self.images_changed,
                "files_rerendered": sum(1 for c in self.changes if c.action == "rerendered"),
                "files_retracted": sum(1 for c in self.changes if c.action == "retracted"),
                "changes": [c.to_json() for c in self.changes], "takedowns": self.takedowns,
                "problems": self.problems}

    def lines(self) -> list[str]:
        """The plain-language report printed by the consent commands."""
        n = self.images_changed
        rer = sum(1 for c in self.changes if c.action == "rerendered")
        ret = sum(1 for c in self.changes if c.action == "retracted")
        out = [f"Released images changed: {n} "
               f"({rer} file{'s' if rer != 1 else ''} re-rendered, {ret} retracted; "
               f"{self.checked} image{'s' if self.checked != 1 else ''} checked)."]
        for c in self.changes:
            out.append(f"  {c.action:10} {c.path}  ({c.why})")
        if self.takedowns:
            out.append(f"TAKE DOWN {len(self.takedowns)} image{'s' if len(self.takedowns) != 1 else ''} "
                       "already handed out with 'pipeline pull' (the copies there are out of date):")
            out.extend("  " + takedown_line(t) for t in self.takedowns)
            out.append("  'pipeline pull --takedowns' lists them again.")
        for p in self.problems:
            out.append(f"WARNING: {p}")
        return out


def takedown_line(t: dict) -> str:
    what = ("remove it from" if t["action"] == "retracted"
            else "replace it with the new version (or remove it) on")
    return (f"#{t['id']} {t['channel']}: {t['output_path']} (pulled to {t['pulled_to']} on {t['pulled_at'][:10]}"
            f" by {t['pulled_by']}) — {what} the {t['channel']} channel. Why: {t['reason']}.")


# ---------------------------------------------------------------- entry points

def propagate(ws, people: Iterable[str] | None, *, cause: str, actor: str,
              forgotten: Sequence[NamedPerson] = (), ctx: RunContext | None = None, today: date | None = None,
              wait_for_running: float = 60.0) -> PropagationReport:
    """Bring every released image of ``people`` (None = every released image) in line with the register.

    ``forgotten``: names of people just forgotten (captured before the register erased them), so
    their names are removed from captions and from the private caption records too.
    ``wait_for_running``: seconds to wait for photos being processed at this moment (they may have
    been decided with the register as it was), so they are checked too.
    """
    with render_lock(ws):  # one at a time: a stale re-render must never overwrite a newer redaction
        return _propagate(ws, people, cause=cause, actor=actor, forgotten=forgotten, ctx=ctx, today=today,
                          wait_for_running=wait_for_running)


def _propagate(ws, people, *, cause, actor, forgotten, ctx, today, wait_for_running) -> PropagationReport:
    ctx = (ctx or RunContext(ws)).refresh()
    if today is not None:
        ctx.today = lambda: today  # type: ignore[method-assign]
    ids = None if people is None else sorted(set(people))
    named = _named(ctx, forgotten)
    report = PropagationReport(cause)
    started = now_iso()
    if forgotten:
        _scrub_private_captions(ws.db, forgotten)
    theirs = [n for n in named if ids is None or n.person_id in ids]
    done: set[int] = set()
    for job_id in _affected_jobs(ws.db, ids, theirs):
        _propagate_job(ws, ctx, job_id, named, cause, actor, report)
        done.add(job_id)
    _refresh_held_previews(ws, ctx, ids)
    late = _late_jobs(ws, started, wait_for_running, report) if wait_for_running > 0 else []
    if late:
        affected = set(_affected_jobs(ws.db, ids, theirs))
        for job_id in late:
            if job_id not in done and job_id in affected:
                _propagate_job(ws, ctx, job_id, named, cause, actor, report)
    if report.checked or report.problems:
        record_event(ws.db, "consent.propagate", actor, ids[0] if ids and len(ids) == 1 else None,
                     {"cause": cause, "people": ids, "images_checked": report.checked,
                      "images_changed": report.images_changed, "files_changed": report.files_changed,
                      "takedowns": [t["id"] for t in report.takedowns]})
    if report.changes:  # no small copy of an earlier version stays in the console's thumbnails/
        from pipeline.delivery.gallery import prune_thumbnails

        for channel in sorted({c.channel for c in report.changes}):
            prune_thumbnails(ws, channel)
    return report


def _refresh_held_previews(ws, ctx, ids: list[str] | None) -> None:
    """Photos held for review are not released, but their private previews show the reviewer every
    face kept on every channel: bring those in line with the register too."""
    for job in ws.db.execute("SELECT * FROM jobs WHERE status='review'").fetchall():
        faces = load_faces(ws.db, job["id"])
        if ids is not None and not any({f["person"], f["confirmed"], *(c[0] for c in f["candidates"])} & set(ids)
                                       for f in faces):
            continue
        work = redecided(faces, ctx)
        if [w["decisions"] for w in work] != [f["decisions"] for f in faces]:
            refresh_preview(ws, job, work)
            with transaction(ws.db):  # stored as drawn, so the next check does not draw it again
                save_decisions(ws.db, job["id"], work)
                update_result(ws.db, job, work)


def expire(ws, *, actor: str, today: date | None = None, ctx: RunContext | None = None) -> PropagationReport:
    """Check every released image against today's register (consent that expired, anything missed)."""
    # Photos being processed right now are decided with today's date already: no need to wait for them.
    report = propagate(ws, None, cause="expiry check", actor=actor, ctx=ctx, today=today, wait_for_running=0)
    record_event(ws.db, "consent.expire", actor, None,
                 {"images_checked": report.checked, "images_changed": report.images_changed,
                  "today": (today or date.today()).isoformat()})
    return report


def expire_if_due(ws, *, actor: str, every: timedelta = timedelta(days=1),
                  now: datetime | None = None) -> PropagationReport | None:
    """Run :func:`expire` unless it already ran within ``every`` (for ``pipeline watch``)."""
    now = now or datetime.now(timezone.utc)
    last = ws.db.execute("SELECT max(at) FROM events WHERE kind='consent.expire'").fetchone()[0]
    if last is not None and now - datetime.fromisoformat(last) < every:
        return None
    return expire(ws, actor=actor)


# ---------------------------------------------------------------- takedowns

def list_takedowns(ws, *, include_done: bool = False) -> list[dict]:
    """Copies handed out with ``pipeline pull`` that are out of date: to be taken down from the channel."""
    sql = ("SELECT t.id, t.channel, o.path AS output_path, o.job_id, p.dest AS pulled_to, p.pulled_at,"
           " p.actor AS pulled_by, t.reason, t.created_at, t.done_at, t.done_by, c.action"
           " FROM takedowns t JOIN pulls p ON p.id = t.pull_id JOIN outputs o ON o.id = t.output_id"
           " JOIN output_changes c ON c.id = t.change_id")
    if not include_done:
        sql += " WHERE t.done_at IS NULL"
    return [dict(r) for r in ws.db.execute(sql + " ORDER BY t.id")]


def mark_takedown_done(ws, takedown_id: int, *, actor: str) -> bool:
    """Record that a takedown was carried out. False when there is no such open takedown."""
    with transaction(ws.db):
        cur = ws.db.execute("UPDATE takedowns SET done_at=?, done_by=? WHERE id=? AND done_at IS NULL",
                            (now_iso(), actor, takedown_id))
        if cur.rowcount:
            record_event(ws.db, "pull.takedown_done", actor, None, {"takedown": takedown_id})
    return bool(cur.rowcount)


# ---------------------------------------------------------------- finding the images

def _named(ctx, forgotten: Sequence[NamedPerson]) -> list[NamedPerson]:
    gone = {n.person_id for n in forgotten}
    return [n for n in ctx.named if n.person_id not in gone] + list(forgotten)


def _affected_jobs(conn, ids: list[str] | None, named: list[NamedPerson]) -> list[int]:
    live = ("SELECT DISTINCT j.id FROM jobs j JOIN outputs o ON o.job_id = j.id"
            " WHERE j.status = 'released' AND o.state = 'live'")
    if ids is None:
        return [r[0] for r in conn.execute(live + " ORDER BY j.id")]
    if not ids:
        return []
    wanted = set(ids)
    found: set[int] = set()
    marks = ",".join("?" * len(ids))
    likes = " OR ".join("f.candidates LIKE ?" for _ in ids)
    for r in conn.execute(
            f"SELECT f.job_id, f.person_id, f.confirmed_person, f.candidates FROM faces f"
            f" WHERE f.job_id IN ({live}) AND (f.person_id IN ({marks}) OR f.confirmed_person IN ({marks})"
            f" OR {likes})", (*ids, *ids, *[f'%"{i}"%' for i in ids])):
        cands = {c[0] for c in json.loads(r["candidates"] or "[]")}
        if {r["person_id"], r["confirmed_person"]} & wanted or cands & wanted:
            found.add(r["job_id"])
    if named:  # captions that name them (a name can be published without the face being found)
        for r in conn.execute("SELECT job_id, caption FROM outputs WHERE state='live' AND caption IS NOT NULL"
                              f" AND job_id IN ({live})"):
            if find_names(r["caption"], named, partial=True):
                found.add(r["job_id"])
    return sorted(found)


def _late_jobs(ws, since: str, wait: float, report: PropagationReport) -> list[int]:
    """Photos in processing while the register changed: wait for them, then return those that finished."""
    def running():
        return [r[0] for r in ws.db.execute(
            "SELECT id FROM jobs WHERE state != 'done' AND coalesce(started_at, received_at) >= ?",
            ((datetime.now(timezone.utc) - timedelta(minutes=10)).isoformat(timespec="seconds"),))]

    pending = running()
    if not pending:
        return []
    deadline = time.monotonic() + wait
    while pending and time.monotonic() < deadline:
        time.sleep(0.5)
        pending = [j for j in pending if j in set(running())]
    if pending:
        report.problems.append(
            f"{len(pending)} photo(s) were still being processed; run 'pipeline consent expire' once "
            "processing has finished so they are checked against this change too.")
    return [r[0] for r in ws.db.execute("SELECT id FROM jobs WHERE state='done' AND finished_at >= ?", (since,))]


def _scrub_private_captions(conn, forgotten: Sequence[NamedPerson]) -> None:
    """Forgetting someone erases their name from the captions kept privately with each job, too."""
    people = list(forgotten)
    with transaction(conn):
        for r in conn.execute("SELECT id, caption FROM jobs WHERE caption IS NOT NULL").fetchall():
            hits = find_names(r["caption"], people, partial=True)
            if hits:
                text = r["caption"]
                for h in sorted(hits, key=lambda h: h.start, reverse=True):
                    text = text[:h.start] + REMOVED + text[h.end:]
                conn.execute("UPDATE jobs SET caption=? WHERE id=?", (text, r["id"]))


# ---------------------------------------------------------------- one image

def _propagate_job(ws, ctx, job_id: int, named: list[NamedPerson], cause: str, actor: str,
                   report: PropagationReport) -> None:
    conn = ws.db
    job = conn.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
    outputs = conn.execute("SELECT * FROM outputs WHERE job_id=? AND state='live' ORDER BY channel",
                           (job_id,)).fetchall()
    if job is None or job["status"] != "released" or not outputs:
        return
    report.checked += 1
    stored = load_faces(conn, job_id)
    work = redecided(stored, ctx)
    final = [_tightened(s, w, [o["channel"] for o in outputs]) for s, w in zip(stored, work)]
    blocked = [f for f in final if "block" in f["decisions"].values()]
    all_blurred_ok = ws.config["channels"]["release_when_all_blurred"]

    plan: list[tuple] = []   # (output row, action, new caption, why, people)
    for o in outputs:
        ch = o["channel"]
        before = _boxes(stored, ch)
        after = _boxes(final, ch)
        people = sorted({_who(f) for s, f in zip(stored, final)
                         if s["decisions"].get(ch) == "keep" and f["decisions"][ch] != "keep" and _who(f)})
        if blocked:
            plan.append((o, "retracted", None, "a face may be a person who must never be published",
                         sorted({_who(f) for f in blocked if _who(f)})))
            continue
        kept = {_who(f) for f in final if f["decisions"][ch] == "keep" and _who(f)}
        caption = o["caption"]
        new_caption = (scrub_caption(caption, named, keep_given=kept, mode=ws.config["captions"]["names"])
                       if caption else caption)
        if (not all_blurred_ok and final and before != after
                and all(f["decisions"][ch] != "keep" for f in final)):
            plan.append((o, "retracted", None, f"every face is now redacted on {ch}", people))
        elif before != after or new_caption != caption:
            why = _why(stored, final, ch) if before != after else "a name was removed from the caption"
            plan.append((o, "rerendered", new_caption, why, people))
    if not plan:
        return

    new_sha: dict[int, str] = {}
    unrenderable: set[int] = set()
    source = _Source(ws, job)
    clip = is_clip_job(job)  # a video clip: re-rendered frame by frame from its original and stored tracks
    for o, action, new_caption, why, _ in plan:
        path = ws.root / o["path"]
        if action == "retracted":
            _unlink_output(path)
            continue
        before, after = _boxes(stored, o["channel"]), _boxes(final, o["channel"])
        if before == after:  # only the caption changes
            _write_caption(path, new_caption)
            new_sha[o["id"]] = o["sha256"]
            continue
        if clip:
            try:
                _, shas = rerender_clip(ws, job, final, [o["channel"]], "", {o["channel"]: new_caption or ""},
                                        existing={o["channel"]: o["path"]})
            except ClipUnavailable as exc:
                _unlink_output(path)
                report.problems.append(f"{o['path']} could not be re-rendered ({exc}); it was retracted instead.")
                unrenderable.add(o["id"])
                continue
            new_sha[o["id"]] = shas[o["channel"]]
            continue
        try:
            image, faces, texts = source.for_channel(o, final)
        except OriginalChanged as exc:
            # Never re-render from bytes that are not the ones checked: take every copy down and hold it.
            _hold_changed_original(ws, job, exc, cause, actor, report)
            return
        except OriginalMissing as exc:
            # Nothing left to redact from: the file must not stay out with the face shown.
            _unlink_output(path)
            report.problems.append(f"{o['path']} could not be re-rendered ({exc}); it was retracted instead.")
            unrenderable.add(o["id"])
            continue
        _, shas = render_channels(ws, image, faces, [o["channel"]], "", {o["channel"]: new_caption or ""},
                                  existing={o["channel"]: o["path"]}, texts=texts)
        new_sha[o["id"]] = shas[o["channel"]]

    plan = [(o, "retracted", None, why, people) if o["id"] in unrenderable else (o, action, c, why, people)
            for o, action, c, why, people in plan]
    at = now_iso()
    with transaction(conn):
        save_decisions(conn, job_id, final)
        live_outputs, live_captions = {}, {}
        retracted_all = bool(blocked)
        for o, action, new_caption, why, people in plan:
            if action == "retracted":
                conn.execute("UPDATE outputs SET state='retracted', updated_at=? WHERE id=?", (at, o["id"]))
            else:
                conn.execute("UPDATE outputs SET sha256=?, caption=?, updated_at=? WHERE id=?",
                             (new_sha[o["id"]], new_caption, at, o["id"]))
            cur = conn.execute(
                "INSERT INTO output_changes(output_id, job_id, channel, action, old_sha256, new_sha256, people,"
                " cause, at, actor) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (o["id"], job_id, o["channel"], action, o["sha256"], new_sha.get(o["id"]), json.dumps(people),
                 cause, at, actor))
            change = Change(job_id, o["channel"], o["path"], action, people, why)
            report.changes.append(change)
            report.takedowns.extend(_takedowns(conn, o, cur.lastrowid, action, f"{cause}: {why}", at))
        for r in conn.execute("SELECT channel, path, caption FROM outputs WHERE job_id=? AND state='live'",
                              (job_id,)):
            live_outputs[r["channel"]] = r["path"]
            if r["caption"]:
                live_captions[r["channel"]] = r["caption"]
        fields = {"outputs": live_outputs, "captions": live_captions}
        if retracted_all:
            reason = (f"blocked after release ({cause}): a face may be a person who must never be published; "
                      f"{len(plan)} released file(s) retracted")
            conn.execute("UPDATE jobs SET status='blocked', reason=? WHERE id=?", (reason, job_id))
            fields.update(status="blocked", reason=reason)
        update_result(conn, job, final, **fields)
        record_event(conn, "consent.rerender", actor, None, {
            "job_id": job_id, "cause": cause,
            "changes": [{"channel": o["channel"], "action": a} for o, a, *_ in plan]}, at=at)


def _tightened(stored: dict, work: dict, channels: list[str]) -> dict:
    """Decisions after the change: a face stays shown only if it was shown and may still be."""
    decisions, reasons = {}, {}
    for ch in channels:
        new = work["decisions"].get(ch, "blur")
        old = stored["decisions"].get(ch, "blur")
        if new == "block":
            decisions[ch], reasons[ch] = "block", work["reasons"].get(ch, "never publish")
        elif new == "keep" and old == "keep":
            decisions[ch], reasons[ch] = "keep", "granted"
        else:
            decisions[ch] = "blur"
            reasons[ch] = work["reasons"].get(ch, "not in the register") if new != "keep" else "redacted before"
    return {**stored, "decisions": decisions, "reasons": reasons}


def _who(face: dict) -> str | None:
    c = face.get("confirmed")
    if c and c != "unknown":
        return c
    return face.get("person") if not c else None


def _boxes(faces: list[dict], channel: str) -> list:
    return sorted(tuple(b) for b in redacted_boxes(faces, channel))


def _why(stored: list[dict], final: list[dict], channel: str) -> str:
    parts = []
    for s, f in zip(stored, final):
        if s["decisions"].get(channel) == "keep" and f["decisions"][channel] != "keep":
            parts.append(f"face {f['idx']}" + (f" ({_who(f)})" if _who(f) else "")
                         + f" now redacted: {f['reasons'][channel]}")
    return "; ".join(parts) or "redaction updated"


def _takedowns(conn, output, change_id: int, action: str, reason: str, at: str) -> list[dict]:
    """Every pull of this output not yet listed for takedown becomes a takedown."""
    rows = conn.execute("SELECT * FROM pulls WHERE output_id=? AND id NOT IN (SELECT pull_id FROM takedowns)"
                        " ORDER BY id", (output["id"],)).fetchall()
    out = []
    for p in rows:
        cur = conn.execute("INSERT INTO takedowns(pull_id, output_id, change_id, channel, reason, created_at)"
                           " VALUES (?,?,?,?,?,?)", (p["id"], output["id"], change_id, p["channel"], reason, at))
        out.append({"id": cur.lastrowid, "channel": p["channel"], "output_path": output["path"],
                    "job_id": output["job_id"], "pulled_to": p["dest"], "pulled_at": p["pulled_at"],
                    "pulled_by": p["actor"], "reason": reason, "created_at": at, "done_at": None,
                    "done_by": None, "action": action})
    return out


def raise_takedowns(conn, output, change_id: int, action: str, reason: str, at: str) -> list[dict]:
    """Every copy of ``output`` handed out (pulled, downloaded, posted) becomes an open takedown."""
    return _takedowns(conn, output, change_id, action, reason, at)


def _hold_changed_original(ws, job, exc: OriginalChanged, cause: str, actor: str,
                           report: PropagationReport) -> None:
    """The kept original changed under the pipeline: retract every released copy, hold the photo, record it."""
    conn = ws.db
    outputs = conn.execute("SELECT * FROM outputs WHERE job_id=? AND state='live' ORDER BY channel",
                           (job["id"],)).fetchall()
    for o in outputs:
        _unlink(ws.root / o["path"])
        _unlink((ws.root / o["path"]).with_suffix(".txt"))
    reason = hold_reason(exc)
    at = now_iso()
    with transaction(conn):
        for o in outputs:
            conn.execute("UPDATE outputs SET state='retracted', updated_at=? WHERE id=?", (at, o["id"]))
            cur = conn.execute(
                "INSERT INTO output_changes(output_id, job_id, channel, action, old_sha256, new_sha256, people,"
                " cause, at, actor) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (o["id"], job["id"], o["channel"], "retracted", o["sha256"], None, "[]", cause, at, actor))
            report.changes.append(Change(job["id"], o["channel"], o["path"], "retracted", [],
                                         "the kept original changed; held for review"))
            report.takedowns.extend(_takedowns(conn, o, cur.lastrowid, "retracted", f"{cause}: {reason}", at))
        conn.execute("UPDATE jobs SET status='review', reason=? WHERE id=?", (reason, job["id"]))
        update_result(conn, job, status="review", reason=reason, outputs={}, captions={})
        record_changed_original(conn, job, exc, actor=actor, during=cause)
    report.problems.append(f"image {job['id']}: {reason}")


class _Source:
    """Pixels to re-render from: the original when kept, else the released file itself."""

    def __init__(self, ws, job):
        self.ws, self.job = ws, job
        self._original: Image.Image | None = None
        self._missing: OriginalMissing | None = None

    def for_channel(self, output, faces: list[dict]) -> tuple[Image.Image, list[dict], list[dict]]:
        """Pixels, faces and the job's text regions, all in the same coordinates."""
        texts = stored_texts(self.job)
        if self._original is None and self._missing is None:
            try:
                self._original = decode_original(self.ws, self.job, original_bytes(self.ws, self.job))
            except OriginalChanged:
                raise
            except OriginalMissing as exc:
                self._missing = exc
        if self._original is not None:
            return self._original, faces, texts
        released = self.ws.root / output["path"]
        if not released.is_file() or not self.job["width"]:
            raise self._missing
        with Image.open(released) as im:
            image = im.convert("RGB")
        scale = image.width / self.job["width"]
        scaled = [{**f, "box": tuple(int(round(v * scale)) for v in f["box"])} for f in faces]
        return image, scaled, texts_scaled(texts, scale)


def _write_caption(path, caption: str | None) -> None:
    txt = path.with_suffix(".txt")
    if caption:
        write_atomic(txt, (caption + "\n").encode("utf-8"))
    else:
        _unlink(txt)


def _unlink_output(path) -> None:
    """Remove a released file with its caption (and a clip's poster frame)."""
    _unlink(path)
    _unlink(path.with_suffix(".txt"))
    if path.suffix == ".mp4":
        _unlink(path.with_suffix(".jpg"))


def _unlink(path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
