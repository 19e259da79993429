"""The register changes the office makes on the console, as the same shared functions `pipeline consent …`
calls (``register_set.apply_set`` / ``apply_import``, ``erasure.forget_everywhere``), plus enrolment that
also keeps a face thumbnail of each reference photo for the review page.

Files received as bytes (an upload) are read from a private temporary folder inside the workspace.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from consent import register
from consent.enrol import enrol_directory
from consent.identification.store import recalibrate
from consent.reference_photos import keep_thumbnails
from consent.register import RegisterError
from pipeline.consent_changes.erasure import forget_everywhere
from pipeline.consent_changes.propagate import propagate
from pipeline.consent_changes.register_set import apply_import, apply_set

ALL = "all"


def import_csv_bytes(ws, data: bytes, name: str, *, actor: str):
    """``consent import`` for a file received as bytes; returns what ``apply_import`` returns."""
    limit = int(ws.config["limits"]["max_register_mb"] * 1024 * 1024)
    if len(data) > limit:
        raise RegisterError(f"{name} is larger than {ws.config['limits']['max_register_mb']:g} MB; "
                            "is it really the register?")
    folder = Path(tempfile.mkdtemp(prefix=".register-", dir=ws.root))
    try:
        path = folder / "register.csv"  # never the browser's name: "..", a NUL or 300 characters break a path
        path.write_bytes(data)
        return apply_import(ws, path, actor=actor)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def change_consent(ws, person: str, channel: str, status: str, *, reason: str, actor: str):
    """Consent on one channel or on every channel (``channel='all'``), with the reason; a SetResult."""
    if not reason or not reason.strip():
        raise RegisterError("Give a reason for the change, e.g. 'letter from parent, 3 May'.")
    if not channel or not status:
        raise RegisterError("Choose the channel (or all channels) and the new consent.")
    return apply_set(ws, person, channel=channel, status=status, reason=reason.strip(), actor=actor)


def set_never_publish(ws, person: str, value: bool, *, reason: str, actor: str):
    """Mark a person never-publish (or clear it), with the reason; a SetResult."""
    if not reason or not reason.strip():
        raise RegisterError("Give a reason for the change, e.g. 'court order received 3 May'.")
    return apply_set(ws, person, channel=None, status=None, never_publish=bool(value), reason=reason.strip(),
                     actor=actor)


def forget(ws, person: str, *, actor: str):
    """``consent forget``: erase the person everywhere; a ForgetResult, or None if already forgotten."""
    if register.get_person(ws.db, person).forgotten:
        return None
    return forget_everywhere(ws, person, actor=actor)


def enrol_photos(ws, directory: Path | str, *, actor: str):
    """Enrol reference photos from a folder (DESIGN.md layouts), recalibrate the identification rule,
    keep a face thumbnail of each for the review page, and check released images again.

    Returns (EnrolReport, PropagationReport or None)."""
    directory = Path(directory)
    report = enrol_directory(ws.db, directory, actor=actor,
                             min_face_size=ws.config["faces"]["min_recognisable_size"],
                             faces_cfg=ws.config["faces"])
    recalibrate(ws.db, ws.config["faces"])   # the identification rule follows the reference photos
    keep_thumbnails(ws.db, [(directory / name, pid) for name, pid in report.enrolled])
    changes = propagate(ws, None, cause="consent enrol", actor=actor) if report.enrolled else None
    return report, changes


def enrol_uploaded(ws, person: str, files: list[tuple[str, bytes]], *, actor: str):
    """``enrol_photos`` for photos of one person received as (file name, bytes)."""
    p = register.get_person(ws.db, person)
    if p.forgotten:
        raise RegisterError(f"'{person}' has been forgotten; bring them back before adding reference photos.")
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


__all__ = ["ALL", "import_csv_bytes", "change_consent", "set_never_publish", "forget", "enrol_photos",
           "enrol_uploaded"]
