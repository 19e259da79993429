"""The register's lifecycle beyond one channel: biometric consent, never-publish, every channel at once,
bringing a forgotten person back, dates explained, and the warnings a data-protection lead needs.

* ``set_person_flags`` — ``never_publish`` / ``biometric`` for one person (``consent set --never-publish``,
  ``--biometric``); turning biometric consent off erases the person's reference photos at once.
* ``set_consent_everywhere`` — one status on every configured channel (``consent set --channel all``).
* ``restore_person`` — the only way back for a forgotten (erased) id: explicit and recorded. Imports
  never do it.
* ``explain_date`` — "30 February does not exist" instead of "not YYYY-MM-DD".
* ``register_warnings`` — consent but no reference photo, expiries already past, no biometric consent.
"""
from __future__ import annotations

import calendar
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from consent.database import now_iso, transaction
from consent.register import (STATUSES, Person, RegisterError, get_person, insert_history, record_event,
                              set_consent)

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
_DATE_SHAPE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


# ---------------------------------------------------------------- dates

def explain_date(value: str) -> str | None:
    """None when ``value`` is a real date written YYYY-MM-DD, else what is wrong with it, in words."""
    text = value.strip()
    m = _DATE_SHAPE.match(text)
    if not m:
        if re.match(r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}$", text):
            return (f"'{text}' is not a date written as YYYY-MM-DD: it looks like day/month/year (or month/day/year); "
                    "write it as e.g. 2027-08-31 (format the spreadsheet column as text)")
        return f"'{text}' is not a date written as YYYY-MM-DD (e.g. 2027-08-31)"
    year, month, day = (int(g) for g in m.groups())
    if len(m.group(2)) != 2 or len(m.group(3)) != 2:
        return f"'{text}' needs two digits for the month and the day (e.g. {year:04d}-{month:02d}-{day:02d})"
    if not 1 <= month <= 12:
        return f"'{text}': there is no month {month} (months go from 01 to 12)"
    last = calendar.monthrange(year, month)[1]
    if day == 0 or day > last:
        extra = ""
        if month == 2 and day == 29:
            extra = f" ({year} is not a leap year)"
        return f"'{text}': {day} {MONTHS[month - 1]} {year} does not exist{extra}"
    return None


def parse_date_explained(value: str, what: str) -> date:
    """A YYYY-MM-DD date, or RegisterError naming ``what`` and saying exactly what is wrong."""
    problem = explain_date(value)
    if problem:
        raise RegisterError(f"{what} {problem}.")
    return date.fromisoformat(value.strip())


# ---------------------------------------------------------------- person-level flags

def erase_reference_encodings(conn: sqlite3.Connection, person_id: str) -> int:
    """Delete every reference encoding of one person (inside the caller's transaction); returns how many.

    The caller turns ``secure_delete`` on beforehand and checkpoints the WAL afterwards (see ``scrub_files``).
    """
    n = conn.execute("SELECT COUNT(*) FROM reference_encodings WHERE person_id=?", (person_id,)).fetchone()[0]
    conn.execute("DELETE FROM reference_encodings WHERE person_id=?", (person_id,))
    return int(n)


def checkpoint(conn: sqlite3.Connection) -> bool:
    """Copy the WAL into the database file and truncate it to nothing; False if a reader kept it."""
    try:
        busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.DatabaseError:
        return False
    return busy is None or busy[0] == 0


def set_person_flags(conn: sqlite3.Connection, person_id: str, *, never_publish: bool | None = None,
                     biometric: bool | None = None, reason: str, actor: str) -> tuple[Person, int]:
    """Set never-publish and/or biometric consent for one person; returns (person, reference photos erased).

    Turning biometric consent off erases every reference encoding of the person at once (the deleted
    bytes are overwritten and the WAL checkpointed), so they are never identified again.
    """
    if never_publish is None and biometric is None:
        raise RegisterError("Say what to change: --never-publish yes|no and/or --biometric yes|no.")
    if not reason or not reason.strip():
        raise RegisterError("Give a reason for the change (--reason), e.g. 'letter from parent, 3 May'.")
    at = now_iso()
    erased = 0
    if biometric is False:
        conn.execute("PRAGMA secure_delete = ON")
    with transaction(conn):
        person = get_person(conn, person_id)
        _refuse_forgotten(person)
        hist, changed = [], []
        if never_publish is not None and never_publish != person.never_publish:
            conn.execute("UPDATE people SET never_publish=? WHERE person_id=?", (int(never_publish), person_id))
            hist.append((at, person_id, None, "never_publish", _yn(person.never_publish), _yn(never_publish),
                         reason, actor))
            changed.append("never_publish")
        if biometric is not None and biometric != person.biometric:
            conn.execute("UPDATE people SET biometric=? WHERE person_id=?", (int(biometric), person_id))
            hist.append((at, person_id, None, "biometric", _yn(person.biometric), _yn(biometric), reason, actor))
            changed.append("biometric")
        if biometric is False:
            erased = erase_reference_encodings(conn, person_id)
            if erased:
                hist.append((at, person_id, None, "reference_photos", str(erased), "0",
                             "biometric consent is no: reference photos erased", actor))
        if hist:
            insert_history(conn, hist)
            conn.execute("UPDATE people SET updated_at=? WHERE person_id=?", (at, person_id))
        record_event(conn, "consent.set", actor, person_id, {
            "never_publish": never_publish, "biometric": biometric, "reason": reason, "changed": changed,
            "reference_encodings_deleted": erased}, at=at)
    if erased:
        checkpoint(conn)
    return get_person(conn, person_id), erased


def set_consent_everywhere(conn: sqlite3.Connection, person_id: str, status: str, channels: Sequence[str], *,
                           expires: date | None = None, clear_expires: bool = False, reason: str,
                           actor: str) -> Person:
    """``consent set P --channel all``: the same status (and expiry) on every configured channel."""
    if status not in STATUSES:
        raise RegisterError(f"'{status}' is not a consent status; use one of: {', '.join(STATUSES)}.")
    person = get_person(conn, person_id)
    _refuse_forgotten(person)
    for channel in channels:
        person = set_consent(conn, person_id, channel, status, expires=expires, clear_expires=clear_expires,
                             reason=reason, actor=actor, channels=channels)
    return person


def _refuse_forgotten(person: Person) -> None:
    if person.forgotten:
        raise RegisterError(
            f"'{person.person_id}' has been forgotten (name and photos erased). To bring them back, run "
            f"'pipeline consent restore {person.person_id} --reason \"…\"', then import the register again.")


def _yn(value: bool) -> str:
    return "yes" if value else "no"


# ---------------------------------------------------------------- bringing a forgotten id back

def restore_person(conn: sqlite3.Connection, person_id: str, *, reason: str, actor: str) -> Person:
    """Let a forgotten id back into the register: recorded, explicit, and starting from nothing.

    The id loses its tombstone; every channel counts as refused, never-publish and biometric consent
    are off, and there is no name until the next ``consent import`` (which then fills it in).
    Imports alone never bring an erased person back.
    """
    if not reason or not reason.strip():
        raise RegisterError("Give a reason for bringing this person back (--reason), e.g. "
                            "'re-joined the school in September, new consent form'.")
    from consent.erased_ids import forget_record, lookup, rename_everywhere

    erased = lookup(conn, person_id)
    if erased is not None and erased[0] != person_id and erased[0].startswith("erased-"):
        # the tombstone took a pseudonym: it gets its id back
        rename_everywhere(conn, erased[0], person_id)
    at = now_iso()
    with transaction(conn):
        person = get_person(conn, person_id)
        if not person.forgotten:
            raise RegisterError(f"'{person_id}' is not forgotten; there is nothing to restore.")
        forget_record(conn, person_id)
        erased_on = conn.execute("SELECT forgotten_at FROM people WHERE person_id=?", (person_id,)).fetchone()[0]
        conn.execute("DELETE FROM consents WHERE person_id=?", (person_id,))
        conn.execute("UPDATE people SET forgotten_at=NULL, never_publish=0, biometric=0, expires=NULL, "
                     "updated_at=? WHERE person_id=?", (at, person_id))
        insert_history(conn, [(at, person_id, None, "forgotten", erased_on, None, reason, actor)])
        record_event(conn, "consent.restore", actor, person_id, {"erased_on": erased_on, "reason": reason}, at=at)
    return get_person(conn, person_id)


# ---------------------------------------------------------------- warnings

@dataclass(frozen=True)
class RegisterWarning:
    person_id: str
    kind: str      # no_reference_photo | expired | no_biometric_consent | never_publish_unrecognised
    message: str

    def to_json(self) -> dict:
        return {"person_id": self.person_id, "kind": self.kind, "message": self.message}


def person_warnings(p: Person, photos: int, channels: Sequence[str], today: date) -> list[RegisterWarning]:
    """What is wrong or surprising about one person's entry today."""
    if p.forgotten:
        return []
    out: list[RegisterWarning] = []
    granted = [c for c in channels if (c in p.consents and p.consents[c].status == "granted")]
    if granted and not p.biometric:
        out.append(RegisterWarning(p.person_id, "no_biometric_consent",
                                   f"{p.person_id} has consent on {', '.join(granted)} but no biometric consent: "
                                   "they are never recognised, so they are always blurred as unknown."))
    elif granted and photos == 0:
        out.append(RegisterWarning(p.person_id, "no_reference_photo",
                                   f"{p.person_id} has consent on {', '.join(granted)} but no reference photo: "
                                   "they will always be blurred as unknown until one is enrolled "
                                   "('pipeline consent enrol')."))
    if p.never_publish and not (p.biometric and photos):
        out.append(RegisterWarning(p.person_id, "never_publish_unrecognised",
                                   f"{p.person_id} must never be published but cannot be recognised ("
                                   + ("no biometric consent" if not p.biometric else "no reference photo")
                                   + "): photos of them are only blurred like any unknown face, not blocked. "
                                   "Check photos by hand, or set [faces] unknown = \"review\"."))
    past = []
    if p.expires is not None and p.expires < today:
        past.append(f"consent expired after {p.expires.isoformat()}")
    for c in channels:
        cc = p.consents.get(c)
        if cc is not None and cc.status == "granted" and cc.expires is not None and cc.expires < today and (
                p.expires is None or p.expires >= today):
            past.append(f"{c} expired after {cc.expires.isoformat()}")
    if past:
        out.append(RegisterWarning(p.person_id, "expired",
                                   f"{p.person_id}: {'; '.join(past)} (the date is already past: every channel "
                                   "concerned counts as refused; correct the date if that is a mistake)."))
    return out


def register_warnings(conn: sqlite3.Connection, channels: Sequence[str], today: date | None = None,
                      people: Sequence[str] | None = None) -> list[RegisterWarning]:
    """Warnings for everyone in the register (or only ``people``)."""
    from consent.register import load_people, reference_photo_counts

    today = today or date.today()
    counts = reference_photo_counts(conn)
    wanted = None if people is None else set(people)
    out: list[RegisterWarning] = []
    for pid, p in load_people(conn).items():
        if wanted is None or pid in wanted:
            out.extend(person_warnings(p, counts.get(pid, 0), channels, today))
    return out
