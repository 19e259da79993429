"""The review queue: images held because the software was unsure, and a person's decisions on them.

A held image (status ``review``) leaves the queue only by an explicit decision. Faces are numbered
from 1 for people (``review list``, ``--face N``, the console); the database keeps its own index.


* ``identify(ws, id, face, person|'unknown')`` records who a face is and decides the image again
  with that identity. It never releases on its own (DESIGN.md: nothing is released until a person
  decides) — except that confirming a never-publish person blocks the image at once (fail safe).
* ``release(ws, id)`` releases the image as decided now: every face not kept (unconfirmed,
  unknown, refused…) stays redacted, one output per channel in approved/<channel>/.
* ``block(ws, id)`` blocks it: no outputs.
* ``undo_identify(ws, id, face)`` takes back who a face was said to be, while the image is held.

Every decision is recorded (review_decisions + events) with time and reviewer, and everything is
decided with the register as it is at the moment of the decision.
"""
from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

from consent.database import now_iso, transaction
from consent.policy import FaceDecision, image_status, summarise
from consent.register import record_event
from pipeline.captions import channel_captions
from pipeline.context import RunContext
from pipeline.errors import UserError
from pipeline.render import remove_preview, render_channels
from pipeline.video.rerender import ClipUnavailable, is_clip_job, rerender_clip
from pipeline.text_in_picture import stored_texts
from pipeline.consent_changes.originals import hold_reason, record_changed_original
from pipeline.consent_changes.rerender import (OriginalChanged, OriginalMissing, decode_original, job_row,
                                               load_faces, original_bytes, output_stem, redecided,
                                               refresh_preview, render_lock, save_decisions, update_result)
from processors.metadata import inspect_metadata
from processors.output import encode_jpeg
from processors.redact import head_region

UNKNOWN = "unknown"


# ---------------------------------------------------------------- reading the queue

def held_images(ws, ctx: RunContext | None = None) -> list[dict]:
    """Every image waiting for a person's decision, oldest first (the ``review list --json`` records)."""
    ctx = (ctx or RunContext(ws)).refresh()
    from pipeline.consent_changes import renewed

    rows = ws.db.execute("SELECT * FROM jobs WHERE state='done' AND status='review' ORDER BY id").fetchall()
    return [_held_record(ws, ctx, job) for job in rows if _duplicate_of(job) is None] + renewed.items(ws)


def _renewal(ws, job_id: int) -> bool:
    """Whether ``job_id`` is a released photo with a "consent renewed" decision waiting (pipeline.consent_changes.renewed)."""
    from pipeline.consent_changes import renewed

    try:
        row = ws.db.execute("SELECT status FROM jobs WHERE id=?", (job_id,)).fetchone()
    except OverflowError:  # an id beyond SQLite's INTEGER range: no such image (_held_job says so)
        return False
    return row is not None and row[0] == "released" and bool(renewed.pending(ws.db, job_id))


def _duplicate_of(job) -> int | None:
    """The job a copy of the same photo was recorded against (decided with it, never on its own)."""
    return json.loads(job["result_json"] or "{}").get("duplicate_of")


def _copies(conn, job_id: int) -> list:
    """Later copies of the same photo still held with it."""
    rows = conn.execute("SELECT * FROM jobs WHERE state='done' AND status='review' AND id != ?", (job_id,))
    return [r for r in rows if _duplicate_of(r) == job_id]


def _settle_copies(conn, job, status: str, actor: str, at: str) -> None:
    """Copies follow the decision on the first one (a released copy has no outputs of its own)."""
    for copy in _copies(conn, job["id"]):
        reason = f"duplicate of {job['source']} (job {job['id']}, {status} on review by {actor})"
        conn.execute("UPDATE jobs SET status=?, reason=? WHERE id=?", (status, reason, copy["id"]))
        update_result(conn, copy, status=status, reason=reason)
        record_event(conn, f"review.{'release' if status == 'released' else 'block'}", actor, None,
                     {"job_id": copy["id"], "duplicate_of": job["id"]}, at=at)


def held_image(ws, job_id: int, ctx: RunContext | None = None) -> dict:
    ctx = (ctx or RunContext(ws)).refresh()
    return _held_record(ws, ctx, _held_job(ws, job_id))


def _held_record(ws, ctx, job) -> dict:
    stored = load_faces(ws.db, job["id"])
    work = redecided(stored, ctx)
    status, summary = _status(work, ctx, ws)
    faces = []
    for w in work:
        faces.append({
            "face": w["idx"] + 1, "box": [int(v) for v in w["box"]], "match": w["match"],
            "person": w["person"],
            "distance": None if w["distance"] is None else round(float(w["distance"]), 4),
            "candidates": [{"person": p, "distance": round(float(d), 4), "name": _name(ctx, p),
                            "closeness": distance_words(d, ctx)} for p, d in w["candidates"]],
            "confirmed": w["confirmed"],
            "decisions": dict(w["decisions"]),
            "reasons": dict(w["reasons"]),
            "needs_review": "review" in w["decisions"].values(),
        })
    preview = f"review/{job['id']}.jpg"
    return {
        "id": job["id"], "source": job["source"], "received_at": job["received_at"], "reason": job["reason"],
        "preview": preview if (ws.root / preview).is_file() else None,
        "clip": is_clip_job(job),
        "text_regions": len(stored_texts(job)),  # regions of text read in the picture (outlined on the preview)
        "faces": faces,
        "ready": status == "released",
        "on_release": _on_release_text(status, summary, work, ctx),
        "decisions": _decisions_so_far(ws.db, job["id"]),
        "copies": [{"id": c["id"], "source": c["source"]} for c in _copies(ws.db, job["id"])],
    }


def _name(ctx, person_id: str) -> str | None:
    p = ctx.people.get(person_id)
    return None if p is None or p.forgotten else p.display_name


def _status(work: list[dict], ctx, ws) -> tuple[str, str]:
    return image_status([FaceDecision(w["decisions"], w["reasons"]) for w in work], ctx.channels,
                        release_when_all_blurred=ws.config["channels"]["release_when_all_blurred"])


def _on_release_text(status: str, summary: str, work, ctx) -> str:
    if status == "blocked":
        return "cannot be released: " + summary
    pending = [w["idx"] + 1 for w in work if "review" in w["decisions"].values()]
    text = summarise([FaceDecision(_settled(w)[0], _settled(w)[1]) for w in work], ctx.channels)
    if pending:
        text += f"; face {', '.join(map(str, pending))} not confirmed: stays redacted everywhere"
    return text


def _decisions_so_far(conn, job_id: int) -> list[dict]:
    return [dict(r) for r in conn.execute(
        "SELECT face_idx + 1 AS face, decision, person_id AS person, at, actor FROM review_decisions "
        "WHERE job_id=? ORDER BY id", (job_id,))]


def _held_job(ws, job_id: int):
    try:
        job = job_row(ws.db, job_id)
    except OverflowError:  # an id beyond SQLite's INTEGER range
        raise UserError(f"There is no image with id {job_id}. 'pipeline review list' shows the held images.") from None
    if job["state"] != "done" or job["status"] != "review":
        state = job["status"] or "still being processed"
        raise UserError(f"Image {job_id} ({job['source']}) is not waiting for review: it is {state}. "
                        "'pipeline review list' shows the held images.")
    first = _duplicate_of(job)
    if first is not None:
        raise UserError(f"Image {job_id} ({job['source']}) is a copy of image {first}: decide image {first} "
                        "and this copy follows that decision.")
    return job


# ---------------------------------------------------------------- decisions

def distance_words(distance, ctx: RunContext) -> str:
    """A face distance in words, against the workspace's own tolerances."""
    if distance is None:
        return "too small to compare"
    tol = ctx.tolerances
    d = float(distance)
    if d <= tol.match * 0.8:
        return "very close: very likely the same person"
    if d <= tol.match:
        return "close: probably the same person, but check"
    if d <= tol.review:
        return "somewhat alike: could be this person, could be someone else"
    return "not alike: probably someone else"


def identify(ws, job_id: int, face_no: int, person: str, *, actor: str, ctx: RunContext | None = None) -> dict:
    """Record that face ``face_no`` (from 1) of held image ``job_id`` is ``person`` (a person id, or 'unknown').

    Returns the image's queue record, with ``status`` 'review' (still held until released or
    blocked) or 'blocked' (the person must never be published).
    """
    ctx = (ctx or RunContext(ws)).refresh()
    job = _held_job(ws, job_id)
    stored = load_faces(ws.db, job_id)
    face_idx = _face_index(job_id, stored, face_no)
    if person != UNKNOWN:
        p = ctx.people.get(person)
        if p is None:
            raise UserError(f"There is no person '{person}' in the register. Use a person id from "
                            "'pipeline consent list', or 'unknown' for someone who is not in the register.")
        if p.forgotten:
            raise UserError(f"'{person}' has been forgotten (erased from the register); use 'unknown'.")
    at = now_iso()
    with transaction(ws.db):
        _still_held(ws.db, job_id)
        ws.db.execute("UPDATE faces SET confirmed_person=? WHERE job_id=? AND idx=?", (person, job_id, face_idx))
        ws.db.execute("INSERT INTO review_decisions(job_id, face_idx, decision, person_id, at, actor) "
                      "VALUES (?,?,?,?,?,?)", (job_id, face_idx, "identify", person, at, actor))
        record_event(ws.db, "review.identify", actor, None if person == UNKNOWN else person,
                     {"job_id": job_id, "face": face_idx, "as": person}, at=at)
    stored = load_faces(ws.db, job_id)
    work = redecided(stored, ctx)
    status, reason = _status(work, ctx, ws)
    with transaction(ws.db):
        save_decisions(ws.db, job_id, work)
        if status == "blocked":
            reason = f"blocked on review: {reason}"
            ws.db.execute("UPDATE jobs SET status='blocked', reason=? WHERE id=?", (reason, job_id))
            update_result(ws.db, job, work, status="blocked", reason=reason)
            record_event(ws.db, "review.block", actor, None,
                         {"job_id": job_id, "automatic": True, "reason": "never publish"}, at=at)
            _settle_copies(ws.db, job, "blocked", actor, at)
        else:
            update_result(ws.db, job, work)
    if status == "blocked":
        remove_preview(ws, job_id)
        return {"id": job_id, "source": job["source"], "status": "blocked", "reason": reason}
    refresh_preview(ws, job, work)
    record = _held_record(ws, ctx, job_row(ws.db, job_id))
    record["status"] = "review"
    return record


def _face_index(job_id: int, stored: list[dict], face_no) -> int:
    """The stored index of face number ``face_no`` (from 1); UserError when there is no such face."""
    if not stored:
        raise UserError(f"Image {job_id} has no faces to identify; release it with --release or block it with --block.")
    try:
        idx = int(face_no) - 1
    except (TypeError, ValueError):
        idx = -1
    if not any(f["idx"] == idx for f in stored):
        raise UserError(f"Image {job_id} has no face {face_no}; its faces are numbered "
                        f"1 to {len(stored)} (see 'pipeline review list').")
    return idx


def undo_identify(ws, job_id: int, face_no: int, *, actor: str, ctx: RunContext | None = None) -> dict:
    """Take back who face ``face_no`` (from 1) of held image ``job_id`` was said to be.

    Only while the image is held; the face is decided again as the software saw it (so it may need
    a decision again). Returns the image's queue record.
    """
    ctx = (ctx or RunContext(ws)).refresh()
    job = _held_job(ws, job_id)
    stored = load_faces(ws.db, job_id)
    face_idx = _face_index(job_id, stored, face_no)
    before = next(f for f in stored if f["idx"] == face_idx).get("confirmed")
    if before is None:
        raise UserError(f"Face {face_no} of image {job_id} has not been identified by anyone; there is nothing to undo.")
    at = now_iso()
    with transaction(ws.db):
        _still_held(ws.db, job_id)
        ws.db.execute("UPDATE faces SET confirmed_person=NULL WHERE job_id=? AND idx=?", (job_id, face_idx))
        ws.db.execute("INSERT INTO review_decisions(job_id, face_idx, decision, person_id, at, actor) "
                      "VALUES (?,?,?,?,?,?)", (job_id, face_idx, "identify", None, at, actor))
        record_event(ws.db, "review.undo", actor, None, {"job_id": job_id, "face": face_no, "was": before}, at=at)
    work = redecided(load_faces(ws.db, job_id), ctx)
    with transaction(ws.db):
        save_decisions(ws.db, job_id, work)
        update_result(ws.db, job, work)
    refresh_preview(ws, job, work)
    record = _held_record(ws, ctx, job_row(ws.db, job_id))
    record["status"] = "review"
    return record


def release(ws, job_id: int, *, actor: str, ctx: RunContext | None = None, note: str | None = None) -> dict:
    """Release a held image as decided now; faces not confirmed stay redacted on every channel.

    Returns the DESIGN.md record of the image (status 'released', outputs per channel).
    Raises UserError (and keeps the image held) when a face may be a never-publish person.
    """
    if _renewal(ws, job_id):
        from pipeline.consent_changes import renewed

        return renewed.release(ws, job_id, actor=actor, ctx=ctx)
    with render_lock(ws):  # a consent change applied meanwhile is seen, or sees this release
        return _release(ws, job_id, actor=actor, ctx=ctx, note=note)


def _release(ws, job_id: int, *, actor: str, ctx: RunContext | None, note: str | None = None) -> dict:
    ctx = (ctx or RunContext(ws)).refresh()
    job = _held_job(ws, job_id)
    stored = load_faces(ws.db, job_id)
    if len(stored) != len(json.loads(job["result_json"] or "{}").get("faces", [])):
        raise UserError(f"Image {job_id} cannot be released: its face records are incomplete. Block it with "
                        f"'pipeline review decide {job_id} --block' and drop the photo into the inbox again.")
    work = redecided(stored, ctx)
    blocking = [w for w in work if "block" in w["decisions"].values()]
    if blocking:
        which = ", ".join(str(w["idx"] + 1) for w in blocking)
        raise UserError(
            f"Image {job_id} was not released: face {which} may be a person who must never be published "
            f"({'; '.join(sorted({w['reasons'][ctx.channels[0]] for w in blocking}))}). Block it with "
            f"'pipeline review decide {job_id} --block', or if you are sure who it is, say so with "
            f"'--face N --as PERSON' (or '--as unknown') and release again.")
    for w in work:
        w["decisions"], w["reasons"] = _settled(w)
    caption = job["caption"]
    if is_clip_job(job):  # a video clip: rendered frame by frame from its original and stored tracks
        captions = channel_captions(caption, SimpleNamespace(faces=work, metadata=None), ctx, ws.config)
        try:
            outputs, shas = rerender_clip(ws, job, work, ctx.channels, output_stem(job), captions)
        except ClipUnavailable as exc:
            raise UserError(f"Clip {job_id} cannot be released: {exc}. Block it with "
                            f"'pipeline review decide {job_id} --block' and ask for the clip to be dropped again.") from None
    else:
        try:
            data = original_bytes(ws, job)
            image = decode_original(ws, job, data)
        except OriginalChanged as exc:
            reason = hold_reason(exc)
            with transaction(ws.db):
                ws.db.execute("UPDATE jobs SET reason=? WHERE id=?", (reason, job_id))
                update_result(ws.db, job, reason=reason)
                record_changed_original(ws.db, job, exc, actor=actor, during="review release")
            raise UserError(f"Image {job_id} was not released: {exc}. It stays held; block it with "
                            f"'pipeline review decide {job_id} --block' and drop the original photo again.") from None
        except OriginalMissing as exc:
            raise UserError(f"Image {job_id} cannot be released: {exc}. Block it with "
                            f"'pipeline review decide {job_id} --block' and ask for the photo to be dropped again.") from None
        analysis = SimpleNamespace(faces=work, metadata=None if caption else inspect_metadata(data, job["source"]))
        captions = channel_captions(caption, analysis, ctx, ws.config)
        outputs, shas = render_channels(ws, image, work, ctx.channels, output_stem(job), captions,
                                        texts=stored_texts(job))
    reason = summarise([FaceDecision(w["decisions"], w["reasons"]) for w in work], ctx.channels)
    reason = f"{reason} (released on review by {actor})"  # the reviewer's own note stays in the audit trail
    at = now_iso()
    with transaction(ws.db):
        now_status = ws.db.execute("SELECT status FROM jobs WHERE id=?", (job_id,)).fetchone()[0]
        if now_status != "review":
            decided_elsewhere = now_status
        else:
            decided_elsewhere = None
            save_decisions(ws.db, job_id, work)
            for channel, rel in outputs.items():
                ws.db.execute(
                    "INSERT INTO outputs(job_id, channel, path, caption, sha256, state, created_at, updated_at)"
                    " VALUES (?,?,?,?,?,'live',?,?)"
                    " ON CONFLICT(job_id, channel) DO UPDATE SET path=excluded.path, caption=excluded.caption,"
                    " sha256=excluded.sha256, state='live', updated_at=excluded.updated_at",
                    (job_id, channel, rel, captions.get(channel), shas[channel], at, at))
            ws.db.execute("UPDATE jobs SET status='released', reason=? WHERE id=?", (reason, job_id))
            update_result(ws.db, job, work, status="released", reason=reason, outputs=outputs, captions=captions)
            ws.db.execute("INSERT INTO review_decisions(job_id, face_idx, decision, person_id, at, actor) "
                          "VALUES (?,?,?,?,?,?)", (job_id, None, "release", None, at, actor))
            record_event(ws.db, "review.release", actor, None,
                         {"job_id": job_id, "outputs": outputs, "reason": reason, "note": (note or "").strip()},
                         at=at)
            _settle_copies(ws.db, job, "released", actor, at)
    if decided_elsewhere is not None:
        if decided_elsewhere != "released":  # someone blocked it meanwhile: take back what was just written
            for rel in outputs.values():
                _remove(ws.root / rel)
        raise UserError(f"Image {job_id} was decided by someone else at the same time (it is now "
                        f"{decided_elsewhere}); nothing more was changed.")
    remove_preview(ws, job_id)
    record = json.loads(job_row(ws.db, job_id)["result_json"])
    record["job_id"] = job_id
    return record


def block(ws, job_id: int, *, actor: str, note: str | None = None) -> dict:
    """Block a held image: it is never released; its preview is removed. ``note``: the reviewer's reason
    (kept in the audit trail only).

    For a "consent renewed" item the photo is left as released (still blurred there)."""
    if _renewal(ws, job_id):
        from pipeline.consent_changes import renewed

        return renewed.dismiss(ws, job_id, actor=actor)
    job = _held_job(ws, job_id)
    reason = f"blocked on review by {actor}"  # the reviewer's note (may be sensitive) stays in the audit trail
    at = now_iso()
    with transaction(ws.db):
        _still_held(ws.db, job_id)
        ws.db.execute("UPDATE jobs SET status='blocked', reason=? WHERE id=?", (reason, job_id))
        update_result(ws.db, job, status="blocked", reason=reason)
        ws.db.execute("INSERT INTO review_decisions(job_id, face_idx, decision, person_id, at, actor) "
                      "VALUES (?,?,?,?,?,?)", (job_id, None, "block", None, at, actor))
        record_event(ws.db, "review.block", actor, None, {"job_id": job_id, "note": (note or "").strip()}, at=at)
        _settle_copies(ws.db, job, "blocked", actor, at)
    remove_preview(ws, job_id)
    return {"id": job_id, "source": job["source"], "status": "blocked", "reason": reason}


def _still_held(conn, job_id: int) -> None:
    status = conn.execute("SELECT status FROM jobs WHERE id=?", (job_id,)).fetchone()[0]
    if status != "review":
        raise UserError(f"Image {job_id} was decided by someone else a moment ago (it is now {status}).")


def _settled(w: dict) -> tuple[dict, dict]:
    """Decisions on release: a face still needing review is redacted (blur) on every channel."""
    decisions, reasons = {}, {}
    for channel, d in w["decisions"].items():
        if d == "review":
            decisions[channel], reasons[channel] = "blur", "not confirmed on review"
        else:
            decisions[channel], reasons[channel] = d, w["reasons"].get(channel, "")
    return decisions, reasons


def _remove(path) -> None:
    try:
        path.unlink()
        path.with_suffix(".txt").unlink(missing_ok=True)
        if path.suffix == ".mp4":  # a clip's poster frame
            path.with_suffix(".jpg").unlink(missing_ok=True)
    except FileNotFoundError:
        pass


# ---------------------------------------------------------------- the face in question

def face_crop(ws, job_id: int, face_no: int, *, size: int = 240, ctx: RunContext | None = None) -> bytes:
    """A JPEG of face ``face_no`` (from 1) of a held image, cut from the original, for the reviewer's eyes only.

    Only a face that still needs a person's decision is shown (UserError otherwise); the bytes are
    made in memory and never written anywhere.
    """
    ctx = (ctx or RunContext(ws)).refresh()
    job = _held_job(ws, job_id)
    stored = load_faces(ws.db, job_id)
    face_idx = _face_index(job_id, stored, face_no)
    face = next(w for w in redecided(stored, ctx) if w["idx"] == face_idx)
    if face["confirmed"] is not None or "review" not in face["decisions"].values():
        raise UserError(f"Face {face_no} of image {job_id} does not need a decision.")
    if is_clip_job(job):  # a held clip: the frame where this track was in question, the face outlined
        frames = sorted((ws.root / "review").glob(f"{job_id}_track{face_idx + 1}_frame*.jpg"))
        if not frames:
            raise UserError(f"Clip {job_id} has no frame in question for face {face_no}.")
        return frames[0].read_bytes()
    try:
        image = _decoded_original(ws, job)
    except OriginalMissing as exc:
        raise UserError(f"Face {face_no} of image {job_id} cannot be shown: {exc}.") from None
    crop = image.crop(head_region(face["box"], image.size, 0.3))
    return encode_jpeg(crop, max_edge=size, quality=85)


_ORIGINALS: dict[tuple, tuple[float, object]] = {}
_ORIGINALS_LOCK = threading.Lock()
_KEEP_SECONDS, _KEEP_IMAGES = 60.0, 2


def _decoded_original(ws, job):
    """The decoded original, kept in memory (never on disk) for a minute: a photo with many faces
    in question is decoded once for all its face crops, not once per face."""
    key = (str(ws.root), job["id"], job["sha256"])
    now = time.monotonic()
    with _ORIGINALS_LOCK:
        for k in [k for k, (at, _) in _ORIGINALS.items() if now - at > _KEEP_SECONDS]:
            del _ORIGINALS[k]
        hit = _ORIGINALS.get(key)
        if hit is not None:
            return hit[1]
    image = decode_original(ws, job, original_bytes(ws, job))
    image.load()  # fully decoded before threads share it
    with _ORIGINALS_LOCK:
        _ORIGINALS[key] = (now, image)
        while len(_ORIGINALS) > _KEEP_IMAGES:
            del _ORIGINALS[min(_ORIGINALS, key=lambda k: _ORIGINALS[k][0])]
    return image


def preview_bytes(ws, job_id: int) -> bytes:
    """The redacted preview of a held image."""
    _held_job(ws, job_id)
    path = ws.root / "review" / f"{int(job_id)}.jpg"
    if not path.is_file():
        raise UserError(f"Image {job_id} has no preview.")
    return path.read_bytes()


def register_choices(ws, ctx: RunContext | None = None) -> list[tuple[str, str]]:
    """(person_id, name) of everyone a reviewer can confirm a face as (not forgotten)."""
    ctx = (ctx or RunContext(ws)).refresh()
    return [(pid, p.display_name) for pid, p in sorted(ctx.people.items()) if not p.forgotten]


__all__ = ["held_images", "held_image", "identify", "undo_identify", "release", "block", "face_crop",
           "preview_bytes", "register_choices", "distance_words", "UNKNOWN"]
