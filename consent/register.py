"""The consent register: people, per-channel consent, expiry, never-publish, history.

Everything other parts of the product need is here:

* ``load_people(conn)`` and ``load_reference_encodings(conn)`` (one query each),
* ``Person.effective_status(channel, today)``,
* ``set_consent`` / ``forget_person`` for the command line and for scripts.

Every change writes ``consent_history`` rows (one per changed field, with reason and
actor) and one ``events`` row.  Events never hold a person's name.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from consent.database import now_iso, transaction

STATUSES = ("granted", "refused", "withdrawn")
ROLES = ("pupil", "staff")
NAME_FIELDS = ("given_name", "family_name")
REMOVED = "[name removed]"


class RegisterError(Exception):
    """A register problem explained in plain words; the command line prints it and exits with 2."""

    exit_code = 2


@dataclass(frozen=True)
class ChannelConsent:
    status: str                 # granted | refused | withdrawn
    expires: date | None = None  # last day this channel's consent is valid


@dataclass(frozen=True)
class Person:
    person_id: str
    given_name: str | None
    family_name: str | None
    group: str
    role: str
    expires: date | None
    never_publish: bool
    forgotten: bool
    consents: dict[str, ChannelConsent] = field(default_factory=dict)  # missing channel = refused
    biometric: bool = False     # written parental consent to reference photos (PoFA 2012); False = never identified

    def effective_status(self, channel: str, today: date) -> str:
        """'granted' | 'refused' | 'withdrawn' | 'expired' on ``channel`` on ``today``.

        Expiry dates are the last valid day: consent is expired when today is later.
        A forgotten person counts as withdrawn everywhere.
        """
        if self.forgotten:
            return "withdrawn"
        consent = self.consents.get(channel)
        if consent is None:
            return "refused"
        if consent.status != "granted":
            return consent.status
        if self.expires is not None and today > self.expires:
            return "expired"
        if consent.expires is not None and today > consent.expires:
            return "expired"
        return "granted"

    @property
    def display_name(self) -> str:
        if self.forgotten:
            return "(forgotten)"
        return " ".join(p for p in (self.given_name, self.family_name) if p)


def parse_date(value: str | None) -> date | None:
    if value is None or value == "":
        return None
    return date.fromisoformat(value)


# ---------------------------------------------------------------- reading

_PEOPLE_SQL = """
SELECT p.person_id, p.given_name, p.family_name, p.grp, p.role, p.expires, p.never_publish,
       p.forgotten_at, p.biometric, c.channel, c.status, c.expires AS channel_expires
FROM people p LEFT JOIN consents c ON c.person_id = p.person_id
ORDER BY p.person_id
"""


def load_people(conn: sqlite3.Connection) -> dict[str, Person]:
    """Every person in the register (forgotten ones included, as nameless tombstones)."""
    rows: dict[str, list] = {}
    consents: dict[str, dict[str, ChannelConsent]] = {}
    for r in conn.execute(_PEOPLE_SQL):
        pid = r["person_id"]
        if pid not in rows:
            rows[pid] = r
            consents[pid] = {}
        if r["channel"] is not None:
            consents[pid][r["channel"]] = ChannelConsent(r["status"], parse_date(r["channel_expires"]))
    return {
        pid: Person(
            person_id=pid, given_name=r["given_name"], family_name=r["family_name"], group=r["grp"],
            role=r["role"], expires=parse_date(r["expires"]), never_publish=bool(r["never_publish"]),
            forgotten=r["forgotten_at"] is not None, consents=consents[pid], biometric=bool(r["biometric"]),
        )
        for pid, r in rows.items()
    }


def get_person(conn: sqlite3.Connection, person_id: str) -> Person:
    people = _load_some(conn, person_id)
    if person_id not in people:
        from consent.erased_ids import lookup

        erased = lookup(conn, person_id)
        if erased is not None:
            raise RegisterError(
                f"'{person_id}' was forgotten on {erased[1][:10]} (name and biometric data erased). Only "
                f"'pipeline consent restore {person_id} --reason \"…\"' brings them back.")
        raise RegisterError(
            f"There is no person '{person_id}' in the register. "
            "'pipeline consent list' shows everyone; add people with 'pipeline consent import'."
        )
    return people[person_id]


def _load_some(conn: sqlite3.Connection, person_id: str) -> dict[str, Person]:
    sql = _PEOPLE_SQL.replace("ORDER BY", "WHERE p.person_id = ? ORDER BY")
    out: dict[str, Person] = {}
    rows = conn.execute(sql, (person_id,)).fetchall()
    if not rows:
        return out
    r = rows[0]
    consents = {x["channel"]: ChannelConsent(x["status"], parse_date(x["channel_expires"]))
                for x in rows if x["channel"] is not None}
    out[person_id] = Person(
        person_id=person_id, given_name=r["given_name"], family_name=r["family_name"], group=r["grp"],
        role=r["role"], expires=parse_date(r["expires"]), never_publish=bool(r["never_publish"]),
        forgotten=r["forgotten_at"] is not None, consents=consents, biometric=bool(r["biometric"]),
    )
    return out


def load_reference_encodings(conn: sqlite3.Connection) -> tuple[list[str], np.ndarray]:
    """``(person_ids, encodings)``: one person id per reference photo and an (N, 128) float64 matrix.

    Forgotten people have no encodings (forgetting deletes them), and nor do people without
    biometric consent (turning it off deletes them); both are excluded here too, so such a person
    is never identified.
    """
    rows = conn.execute(
        "SELECT r.person_id, r.encoding FROM reference_encodings r JOIN people p ON p.person_id = r.person_id "
        "WHERE p.forgotten_at IS NULL AND p.biometric = 1 ORDER BY r.id"
    ).fetchall()
    if not rows:
        return [], np.zeros((0, 128), dtype=np.float64)
    ids = [r[0] for r in rows]
    matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f8").reshape(len(rows), 128)
    return ids, matrix.astype(np.float64)


def reference_photo_counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {r[0]: r[1] for r in conn.execute(
        "SELECT person_id, COUNT(*) FROM reference_encodings GROUP BY person_id")}


def history(conn: sqlite3.Connection, person_id: str) -> list[dict]:
    return [dict(r) for r in conn.execute(
        "SELECT at, channel, field, old_value, new_value, reason, actor FROM consent_history "
        "WHERE person_id = ? ORDER BY id", (person_id,))]


# ---------------------------------------------------------------- writing

def record_event(conn: sqlite3.Connection, kind: str, actor: str, person_id: str | None = None,
                 detail: dict | None = None, at: str | None = None) -> None:
    """Append to the audit trail. ``detail`` must not contain names."""
    conn.execute(
        "INSERT INTO events(at, actor, kind, person_id, detail) VALUES (?,?,?,?,?)",
        (at or now_iso(), actor, kind, person_id, json.dumps(detail or {}, ensure_ascii=False, sort_keys=True)),
    )


def set_consent(conn: sqlite3.Connection, person_id: str, channel: str, status: str, *,
                expires: date | None = None, clear_expires: bool = False, reason: str, actor: str,
                channels: Sequence[str] | None = None) -> Person:
    """Set one person's consent on one channel; returns the updated person.

    ``expires`` sets the channel's own expiry (last valid day); ``None`` keeps the current one,
    ``clear_expires=True`` removes it. ``channels`` (the configured list) rejects unknown channels.
    """
    if status not in STATUSES:
        raise RegisterError(f"'{status}' is not a consent status; use one of: {', '.join(STATUSES)}.")
    if channels is not None and channel not in channels:
        raise RegisterError(
            f"'{channel}' is not a configured channel; the channels are: {', '.join(channels)} "
            "(see [channels] names in pipeline.toml)."
        )
    if not reason or not reason.strip():
        raise RegisterError("Give a reason for the change (--reason), e.g. 'parent phoned on 3 May'.")
    at = now_iso()
    with transaction(conn):
        person = get_person(conn, person_id)
        if person.forgotten:
            raise RegisterError(
                f"'{person_id}' has been forgotten (name and photos erased). "
                "Import them again with 'pipeline consent import' if they should be back in the register."
            )
        old = person.consents.get(channel)
        old_status = old.status if old else None
        old_expires = old.expires.isoformat() if old and old.expires else None
        new_expires = None if clear_expires else (expires.isoformat() if expires else old_expires)
        conn.execute(
            "INSERT INTO consents(person_id, channel, status, expires, updated_at) VALUES (?,?,?,?,?) "
            "ON CONFLICT(person_id, channel) DO UPDATE SET status=excluded.status, expires=excluded.expires, "
            "updated_at=excluded.updated_at",
            (person_id, channel, status, new_expires, at),
        )
        changes = []
        if old_status != status:
            changes.append((at, person_id, channel, "status", old_status, status, reason, actor))
        if old_expires != new_expires:
            changes.append((at, person_id, channel, "expires", old_expires, new_expires, reason, actor))
        if changes:
            insert_history(conn, changes)
            conn.execute("UPDATE people SET updated_at=? WHERE person_id=?", (at, person_id))
        record_event(conn, "consent.set", actor, person_id, {
            "channel": channel, "status": status, "expires": new_expires, "reason": reason,
            "changed": [c[3] for c in changes],
        }, at=at)
        return _load_some(conn, person_id)[person_id]


def insert_history(conn: sqlite3.Connection, rows: list[tuple]) -> None:
    conn.executemany(
        "INSERT INTO consent_history(at, person_id, channel, field, old_value, new_value, reason, actor) "
        "VALUES (?,?,?,?,?,?,?,?)", rows)


def forget_person(conn: sqlite3.Connection, person_id: str, *, actor: str) -> None:
    """Erase a person's name and every reference encoding; keep a nameless tombstone.

    The name is removed from ``people``, from old/new values of name changes in the history,
    and from any free text (reasons, event details) of this person's history and events.
    Deleted bytes are overwritten (secure_delete) and the WAL is checkpointed, so the name does
    not linger in the database file. Forgetting someone already forgotten changes nothing.
    """
    person = get_person(conn, person_id)
    names = _names_to_scrub(conn, person_id, person)
    at = now_iso()
    conn.execute("PRAGMA secure_delete = ON")
    with transaction(conn):
        n_refs = conn.execute("SELECT COUNT(*) FROM reference_encodings WHERE person_id=?", (person_id,)).fetchone()[0]
        conn.execute("DELETE FROM reference_encodings WHERE person_id=?", (person_id,))
        conn.execute("UPDATE people SET given_name=NULL, family_name=NULL, forgotten_at=COALESCE(forgotten_at, ?), "
                     "updated_at=? WHERE person_id=?", (at, at, person_id))
        conn.execute("UPDATE consent_history SET old_value=NULL, new_value=NULL "
                     "WHERE person_id=? AND field IN ('given_name','family_name')", (person_id,))
        for name in names:
            for table, column in (("consent_history", "reason"), ("consent_history", "old_value"),
                                  ("consent_history", "new_value"), ("events", "detail")):
                conn.execute(
                    f"UPDATE {table} SET {column} = replace({column}, ?, ?) "
                    f"WHERE person_id = ? AND instr({column}, ?) > 0",
                    (name, REMOVED, person_id, name))
        if not person.forgotten:
            from consent.erased_ids import record

            record(conn, person_id, at)
            insert_history(conn, [(at, person_id, None, "forgotten", None, at, "forgotten on request", actor)])
            record_event(conn, "consent.forget", actor, person_id,
                         {"erased": ["given_name", "family_name", "reference_encodings"],
                          "reference_encodings_deleted": n_refs}, at=at)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.DatabaseError:  # another reader holds the WAL; the next checkpoint overwrites it
        pass


def _names_to_scrub(conn: sqlite3.Connection, person_id: str, person: Person) -> list[str]:
    """The person's current and past names (from the history), longest first."""
    names = {person.given_name, person.family_name}
    full = " ".join(n for n in (person.given_name, person.family_name) if n)
    names.add(full)
    for r in conn.execute("SELECT old_value, new_value FROM consent_history WHERE person_id=? "
                          "AND field IN ('given_name','family_name')", (person_id,)):
        names.update((r[0], r[1]))
    return sorted((n for n in names if n and len(n.strip()) >= 2), key=len, reverse=True)
