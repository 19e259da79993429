"""/register: the consent register for the office — import, consent per channel or all, never-publish,
forget (with a confirmation step), reference photos. Each form calls pipeline.register_actions."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, g, render_template, request, url_for

from consent import register as reg
from consent.reference_photos import people_with_photos
from consent.register import RegisterError
from console.views._common import done, page_number
from pipeline.consent_changes import register_actions as actions
from pipeline.errors import UserError

bp = Blueprint("register", __name__)
PER_PAGE = 50


def _report_lines(report) -> str:
    return " ".join(report.lines()) if report is not None else ""


@bp.get("/register")
def page():
    q = (request.args.get("q") or "").strip().lower()
    people = [p for p in reg.load_people(g.ws.db).values() if not p.forgotten or q]
    if q:
        people = [p for p in people if q in p.person_id.lower() or q in (p.display_name or "").lower()
                  or q == (p.group or "").lower()]
    total = len(people)
    pages = max(1, -(-total // PER_PAGE))
    pg = min(page_number(request.args.get("page")), pages)
    shown = people[(pg - 1) * PER_PAGE: pg * PER_PAGE]
    counts = reg.reference_photo_counts(g.ws.db)
    today = date.today()
    rows = [{"p": p, "status": {ch: p.effective_status(ch, today) for ch in g.ws.config.channels},
             "photos": counts.get(p.person_id, 0)} for p in shown]
    return render_template("register.html", rows=rows, channels=g.ws.config.channels, q=q, page=pg, pages=pages,
                           total=total, statuses=reg.STATUSES, with_photo=people_with_photos(g.ws.db))


def _back(person: str | None = None) -> str:
    q = request.form.get("q") or ""
    return url_for("register.page", q=q or None) + (f"#person-{person}" if person else "")


def _reason() -> str:
    return (request.form.get("reason") or "").strip()[:500]


@bp.post("/register/import")
def import_csv():
    f = request.files.get("csv")
    if f is None or not f.filename:
        return done("Choose the register CSV file first.", _back(), ok=False)
    try:
        summary, report, warnings, renewed = actions.import_csv_bytes(g.ws, f.read(), f.filename,
                                                                       actor=g.user.name)
    except (RegisterError, UserError) as exc:
        return done(f"Nothing was imported: {exc}", _back(), ok=False)
    text = (f"Imported {f.filename}: {len(summary.added)} added, {len(summary.updated)} updated, "
            f"{len(summary.unchanged)} unchanged.")
    if summary.never_publish_cleared:
        text += " WARNING: never-publish was switched OFF for: " + ", ".join(summary.never_publish_cleared) + "."
    if renewed:
        text += (f" Consent renewed: {len(renewed)} released photo(s) still blur someone who may now be shown; "
                 "they wait on the review page.")
    notes = [f"WARNING: {w.message}" for w in warnings[:20]]
    return done(" ".join([text, *summary.notes, *notes, _report_lines(report)]).strip(), _back())


@bp.post("/register/<person>/consent")
def consent(person: str):
    channel = request.form.get("channel") or ""
    status = request.form.get("status") or ""
    try:
        report = actions.change_consent(g.ws, person, channel, status, reason=_reason(), actor=g.user.name).report
    except (RegisterError, UserError) as exc:
        return done(f"Nothing was changed: {exc}", _back(person), ok=False)
    where = "every channel" if channel == actions.ALL else channel
    return done(f"{person}: consent on {where} is now {status}. {_report_lines(report)}".strip(), _back(person))


@bp.post("/register/<person>/never-publish")
def never_publish(person: str):
    value = request.form.get("never_publish") == "yes"
    try:
        report = actions.set_never_publish(g.ws, person, value, reason=_reason(), actor=g.user.name).report
    except (RegisterError, UserError) as exc:
        return done(f"Nothing was changed: {exc}", _back(person), ok=False)
    state = "NEVER to be published" if value else "no longer marked never-publish"
    return done(f"{person} is {state}. {_report_lines(report)}".strip(), _back(person))


@bp.route("/register/<person>/forget", methods=["GET", "POST"])
def forget(person: str):
    try:
        p = reg.get_person(g.ws.db, person)
    except RegisterError:
        abort(404)
    if request.method == "GET":
        return render_template("forget.html", p=p)
    if (request.form.get("confirm_id") or "").strip() != person:
        return render_template("forget.html", p=p,
                               error=f"Type the id {person} exactly to confirm; nothing was erased."), 400
    try:
        result = actions.forget(g.ws, person, actor=g.user.name)
    except (RegisterError, UserError) as exc:
        return done(f"Nothing was erased: {exc}", _back(), ok=False)
    if result is None:
        return done(f"{person} was already forgotten; nothing to erase.", _back())
    return done(" ".join([f"{person} forgotten: name and reference photos erased; the history keeps only the id.",
                          _report_lines(result.report), *result.lines()]).strip(), _back())


@bp.post("/register/<person>/photos")
def photos(person: str):
    files = [(f.filename or "photo.jpg", f.read()) for f in request.files.getlist("photos") if f and f.filename]
    if not files:
        return done("Choose one or more reference photos first.", _back(person), ok=False)
    try:
        report, changes = actions.enrol_uploaded(g.ws, person, files, actor=g.user.name)
    except (RegisterError, UserError) as exc:
        return done(f"Nothing was added: {exc}", _back(person), ok=False)
    text = f"{person}: {len(report.enrolled)} reference photo(s) added"
    if report.already:
        text += f", {len(report.already)} already there"
    if report.refused:
        text += "; refused: " + "; ".join(f"{name}: {why}" for name, why in report.refused)
    return done(text + ". " + _report_lines(changes), _back(person), ok=not report.refused)
