"""Changes to the consent register as the office makes them, each carried through to released images.

One function per change; ``pipeline consent …`` and the console's /register page both call them:
the register function records the change (with time, reason and who), then every released image
of the person is brought in line (pipeline.propagate), and the report says what changed.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from consent import register
from consent.database import now_iso, transaction
from consent.enrol import enrol_directory
from consent.reference_photos import keep_thumbnails
from consent.register import RegisterError, record_event
from consent.register_import import import_register
from pipeline.consent_changes.propagate import propagate

ALL = "all"


def import_csv(ws, path: Path | str, *, actor: str):
    """Import a register CSV (all or nothing); returns (ImportSummary, PropagationReport)."""
    summary = import_register(ws.db, path, ws.config.channels, actor=actor,
                              max_bytes=int(ws.config["limits"]["max_register_mb"] * 1024 * 1024))
    return summary, propagate(ws, summary.updated, cause="consent import", actor=actor)


def import_csv_bytes(ws, data: bytes, name: str, *, actor: str):
    """``import_csv`` for a file received as bytes (an upload): read from a private temporary copy."""
    folder = Path(tempfile.mkdtemp(prefix=".register-", dir=ws.root))
    try:
        path = folder / (Path(name or "register.csv").name or "register.csv")
        path.write_bytes(data)
        return import_csv(ws, path, actor=actor)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def change_consent(ws, person: str, channel: str, status: str, *, reason: str, actor: str,
                   expires=None, clear_expires: bool = False):
    """Set one person's consent on one channel, or on every channel (``channel='all'``).

    Returns (updated Person, PropagationReport). A bad channel, status or person changes nothing.
    """
    channels = list(ws.config.channels) if channel == ALL else [channel]
    if channel != ALL and channel not in ws.config.channels:
        raise RegisterError(f"'{channel}' is not a configured channel; the channels are: "
                            f"{', '.join(ws.config.channels)} (or 'all').")
    register.get_person(ws.db, person)  # unknown person: nothing changes
    updated = None
    for ch in channels:
        updated = register.set_consent(ws.db, person, ch, status, expires=expires, clear_expires=clear_expires,
                                       reason=reason, actor=actor, channels=ws.config.channels)
    return updated, propagate(ws, [person], cause="consent set", actor=actor)


def set_never_publish(ws, person: str, value: bool, *, reason: str, actor: str):
    """Mark a person never-publish (or clear it), with the reason; returns (Person, PropagationReport)."""
    if not reason or not reason.strip():
        raise RegisterError("Give a reason for the change, e.g. 'court order received 3 May'.")
    at = now_iso()
    with transaction(ws.db):
        p = register.get_person(ws.db, person)
        if p.forgotten:
            raise RegisterError(f"'{person}' has been forgotten (name and photos erased); nothing to change.")
        if bool(p.never_publish) != bool(value):
            ws.db.execute("UPDATE people SET never_publish=?, updated_at=? WHERE person_id=?",
                          (1 if value else 0, at, person))
            register.insert_history(ws.db, [(at, person, None, "never_publish", "yes" if p.never_publish else "no",
                                             "yes" if value else "no", reason.strip(), actor)])
        record_event(ws.db, "consent.never_publish", actor, person, {"never_publish": bool(value),
                                                                     "reason": reason.strip()}, at=at)
    return register.get_person(ws.db, person), propagate(ws, [person], cause="consent set", actor=actor)


def forget(ws, person: str, *, actor: str):
    """Erase a person's name and reference data (a nameless tombstone stays); returns the PropagationReport.

    Returns None when the person was already forgotten.
    """
    from processors.names import NamedPerson

    p = register.get_person(ws.db, person)
    if p.forgotten:
        return None
    named = [NamedPerson(p.person_id, p.given_name or "", p.family_name or "")] if p.given_name and p.family_name else []
    register.forget_person(ws.db, person, actor=actor)
    return propagate(ws, [person], cause="consent forget", actor=actor, forgotten=named)


def enrol_photos(ws, directory: Path | str, *, actor: str):
    """Enrol reference photos from a folder (DESIGN.md layouts) and keep a face thumbnail of each for
    the review page; returns (EnrolReport, PropagationReport or None)."""
    directory = Path(directory)
    report = enrol_directory(ws.db, directory, actor=actor,
                             min_face_size=ws.config["faces"]["min_recognisable_size"])
    keep_thumbnails(ws.db, [(directory / name, pid) for name, pid in report.enrolled])
    changes = propagate(ws, None, cause="consent enrol", actor=actor) if report.enrolled else None
    return report, changes


def enrol_uploaded(ws, person: str, files: list[tuple[str, bytes]], *, actor: str):
    """``enrol_photos`` for photos of one person received as (file name, bytes): from a private temporary folder."""
    p = register.get_person(ws.db, person)
    if p.forgotten:
        raise RegisterError(f"'{person}' has been forgotten; import them again before adding reference photos.")
    folder = Path(tempfile.mkdtemp(prefix=".enrol-", dir=ws.root))
    try:
        target = folder / person
        target.mkdir()
        for i, (name, data) in enumerate(files, start=1):
            suffix = Path(name or "").suffix.lower()[:8] or ".jpg"
            (target / f"photo{i}{suffix}").write_bytes(data)
        return enrol_photos(ws, folder, actor=actor)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


__all__ = ["ALL", "import_csv", "import_csv_bytes", "change_consent", "set_never_publish", "forget",
           "enrol_photos", "enrol_uploaded"]
