"""/review: held photos, the faces in question, and the safeguarding lead's decisions (pipeline.review)."""
from __future__ import annotations

from flask import Blueprint, abort, g, render_template, request, url_for

from consent.reference_photos import people_with_photos, reference_photo
from console.views._common import done, private_image
from pipeline.review import queue as rv
from pipeline.review.retract import released_recently, retract as retract_photo
from pipeline.context import RunContext
from pipeline.errors import UserError
from pipeline.consent_changes.rerender import OriginalMissing

bp = Blueprint("review", __name__)


@bp.get("/review")
def queue():
    ctx = RunContext(g.ws)
    items = rv.held_images(g.ws, ctx)
    for item in items:
        item["faces"].sort(key=lambda f: (not f["needs_review"], f["face"]))
        item["in_question"] = [f for f in item["faces"] if f["needs_review"]]
        item["settled"] = [f for f in item["faces"] if not f["needs_review"]]
    people = rv.register_choices(g.ws, ctx)
    groups = {pid: p.group for pid, p in ctx.people.items()}
    return render_template("review.html", items=items, people=people, groups=groups,
                           with_photo=people_with_photos(g.ws.db), released=released_recently(g.ws))


@bp.get("/review/<int:job_id>/preview.jpg")
def preview(job_id: int):
    try:
        return private_image(rv.preview_bytes(g.ws, job_id))
    except UserError:
        abort(404)


@bp.get("/review/<int:job_id>/face/<int:n>.jpg")
def face(job_id: int, n: int):
    try:
        return private_image(rv.face_crop(g.ws, job_id, n))
    except (UserError, OriginalMissing):
        abort(404)


@bp.get("/review/reference/<person>.jpg")
def reference(person: str):
    data = reference_photo(g.ws.db, person)
    if data is None:
        abort(404)
    return private_image(data)


def _back(job_id: int | None = None) -> str:
    return url_for("review.queue") + (f"#image-{job_id}" if job_id else "")


def _picked(text: str) -> str | None:
    """The person id meant by what was typed or picked: "P001 — Amelia Hart (Y4)", "P001", or a name
    that only one person in the register has. None when it matches nobody or several people."""
    choices = rv.register_choices(g.ws)
    ids = {pid for pid, _ in choices}
    first = text.split(" ", 1)[0]
    if first in ids:
        return first
    wanted = " ".join(text.lower().split())
    named = [pid for pid, name in choices if " ".join((name or "").lower().split()) == wanted]
    return named[0] if len(named) == 1 else None


@bp.post("/review/<int:job_id>/face/<int:n>")
def identify(job_id: int, n: int):
    person = (request.form.get("person") or "").strip()
    if request.form.get("unknown"):
        person = rv.UNKNOWN
    if not person:
        return done(f"Photo {job_id}: choose who face {n} is first (or 'Not in the register').", _back(job_id), ok=False)
    if person != rv.UNKNOWN:
        person = _picked(person)
        if person is None:
            return done(f"Photo {job_id}, face {n}: pick the person from the list (type part of their name, "
                        "then choose them), or press 'Not in the register'.", _back(job_id), ok=False)
    try:
        r = rv.identify(g.ws, job_id, n, person, actor=g.user.name)
    except UserError as exc:
        return done(str(exc), _back(job_id), ok=False)
    if r["status"] == "blocked":
        return done(f"Photo {job_id} is now blocked: {r['reason']}.", _back())
    who = "not in the register" if person == rv.UNKNOWN else person
    return done(f"Photo {job_id}: face {n} recorded as {who}. It stays held until you release or block it.",
                _back(job_id))


@bp.post("/review/<int:job_id>/face/<int:n>/undo")
def undo(job_id: int, n: int):
    try:
        rv.undo_identify(g.ws, job_id, n, actor=g.user.name)
    except UserError as exc:
        return done(str(exc), _back(job_id), ok=False)
    return done(f"Photo {job_id}: face {n} is no longer identified; decide it again.", _back(job_id))


def _confirmed_reason(job_id: int, what: str):
    reason = (request.form.get("reason") or "").strip()
    if request.form.get("confirm") != "yes" or not reason:
        return None, done(f"Photo {job_id} was not {what}: tick the box to confirm and give a reason.",
                          _back(job_id), ok=False)
    return reason[:500], None


@bp.post("/review/<int:job_id>/release")
def release(job_id: int):
    reason, refused = _confirmed_reason(job_id, "released")
    if refused:
        return refused
    try:
        r = rv.release(g.ws, job_id, actor=g.user.name, note=reason)
    except UserError as exc:
        return done(str(exc), _back(job_id), ok=False)
    return done(f"Photo {job_id} released ({r['reason']}).", _back())


@bp.post("/review/<int:job_id>/block")
def block(job_id: int):
    reason, refused = _confirmed_reason(job_id, "blocked")
    if refused:
        return refused
    try:
        r = rv.block(g.ws, job_id, actor=g.user.name, note=reason)
    except UserError as exc:
        return done(str(exc), _back(job_id), ok=False)
    if r.get("kind"):  # a "consent renewed" item: the released photo stays as it is
        return done(f"Photo {job_id}: {r['reason']}.", _back())
    return done(f"Photo {job_id} blocked: nothing from it will be released.", _back())


@bp.post("/review/<int:job_id>/retract")
def retract(job_id: int):
    reason, refused = _confirmed_reason(job_id, "taken back")
    if refused:
        return refused
    try:
        r = retract_photo(g.ws, job_id, actor=g.user.name, reason=reason)
    except UserError as exc:
        return done(str(exc), _back(), ok=False)
    extra = f" {len(r['takedowns'])} copies handed out are now listed for takedown." if r["takedowns"] else ""
    return done(f"Photo {job_id} taken back: its released files were removed.{extra}", _back())
