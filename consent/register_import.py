"""Import the register from a school's spreadsheet (CSV), all or nothing.

Row numbers in messages are the spreadsheet's own: the header is row 1, the first
person is row 2 (blank rows count, as they do in Excel or LibreOffice).

Rules (DESIGN.md "Consent register"):
* required columns: person_id, given_name, family_name; optional: group, role, expires,
  never_publish, biometric and one column per configured channel (missing channel column = refused);
* unknown columns, a repeated column, a bad value on any row, a duplicate id or an empty
  file reject the whole file and nothing changes;
* re-importing updates people already in the register and records each changed field in
  the history; people absent from the file are left as they are;
* an optional column that is absent (group, role, expires, never_publish) leaves that field
  unchanged for people already in the register (so a shorter spreadsheet never clears a
  never-publish flag);
* a consent withdrawn with ``pipeline consent set`` is never re-granted by an import: the
  summary lists it so someone can decide with ``consent set``;
* ``biometric`` (yes/no; empty = no): written parental consent to reference photos. A new person
  without it is never enrolled; a change from yes to no erases their reference photos at once;
* a forgotten (erased) id stays erased whatever the file says: its row is skipped and reported
  ("erased on DATE"); only ``pipeline consent restore`` brings it back.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from consent.database import now_iso, transaction
from consent.erased_ids import lookup as lookup_erased
from consent.lifecycle import erase_reference_encodings, explain_date
from consent.register import RegisterError, insert_history, record_event
from processors.gate import Refused, display, read_input

DEFAULT_MAX_BYTES = 20 * 1024 * 1024  # [limits] max_register_mb

BASE_COLUMNS = ("person_id", "given_name", "family_name", "group", "role", "expires", "never_publish", "biometric")
REQUIRED = ("person_id", "given_name", "family_name")
OPTIONAL_PERSON_FIELDS = ("group", "role", "expires", "never_publish", "biometric")
YES = {"yes", "y", "true"}
NO = {"no", "n", "false"}
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_ERRORS = 20


@dataclass
class RegisterRow:
    row: int
    person_id: str
    given_name: str
    family_name: str
    group: str | None          # None = column absent
    role: str | None
    expires: str | None        # ISO text, "" = no expiry, None = column absent
    never_publish: bool | None
    consents: dict[str, str]   # channel -> granted | refused (every configured channel)
    biometric: bool | None = None  # None = column absent


@dataclass
class ImportSummary:
    source: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)       # forgotten people imported again
    not_in_file: int = 0
    kept_withdrawn: list[tuple[str, str]] = field(default_factory=list)  # (person, channel) file said yes
    never_publish_cleared: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    history_rows: int = 0
    erased_skipped: list[tuple[str, str]] = field(default_factory=list)  # (person, erased on) rows skipped
    biometric_withdrawn: list[tuple[str, int]] = field(default_factory=list)  # (person, reference photos erased)

    def to_json(self) -> dict:
        return {
            "source": self.source, "added": len(self.added), "updated": len(self.updated),
            "unchanged": len(self.unchanged), "restored": self.restored, "not_in_file": self.not_in_file,
            "kept_withdrawn": [{"person_id": p, "channel": c} for p, c in self.kept_withdrawn],
            "never_publish_cleared": self.never_publish_cleared, "notes": self.notes,
            "skipped_erased": [{"person_id": p, "erased_on": d} for p, d in self.erased_skipped],
            "biometric_withdrawn": [{"person_id": p, "reference_photos_erased": n}
                                    for p, n in self.biometric_withdrawn],
        }


# ---------------------------------------------------------------- parsing

def read_register_csv(data: bytes, channels: Sequence[str], source: str = "register.csv"
                      ) -> tuple[list[RegisterRow], list[str]]:
    """Parse and check the whole file. Returns (rows, notes) or raises RegisterError listing the problems."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RegisterError(
            f"{source} was not imported: it is not UTF-8 text (byte {exc.start} cannot be read). "
            "In Excel use 'Save As' > 'CSV UTF-8 (Comma delimited)'; in LibreOffice choose the UTF-8 character set."
        ) from None
    if not text.strip():
        raise RegisterError(f"{source} was not imported: the file is empty. It needs a header row "
                            f"({_example_header(channels)}) and one row per person.")
    first_line = text.lstrip().split("\n", 1)[0]
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    del data
    try:
        return _read_records(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False),
                             channels, source)
    except csv.Error as exc:  # NUL bytes, a runaway quoted field …
        raise RegisterError(f"{source} was not imported: it is not a readable CSV file ({exc}). "
                            "Save it again from the spreadsheet as CSV UTF-8.") from None


def _read_records(reader, channels: Sequence[str], source: str) -> tuple[list[RegisterRow], list[str]]:
    """Check the records one at a time as the reader streams them (the file is never held as a list)."""
    header_row, header = None, None
    for i, rec in enumerate(reader):
        if any(c.strip() for c in rec):
            header_row, header = i, [h.strip().lower() for h in rec]
            break
    if header_row is None:
        raise RegisterError(f"{source} was not imported: the file has no header row.")
    columns = _check_header(header, header_row + 1, channels, source)
    notes = [f"There is no '{c}' column: everyone in this file is refused on {c}."
             for c in channels if c not in columns]
    notes += [f"There is no '{c}' column: {c} is unchanged for people already in the register."
              for c in OPTIONAL_PERSON_FIELDS if c not in columns and c != "biometric"]
    if "biometric" not in columns:
        notes.append("There is no 'biometric' column: people new in this file count as 'no' (no reference photo "
                     "can be enrolled for them, so they are never recognised and always blurred); it is "
                     "unchanged for people already in the register.")

    rows: list[RegisterRow] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    seen_folded: dict[str, tuple[str, int]] = {}
    for index, rec in enumerate(reader, start=header_row + 1):
        rownum = index + 1
        if not any(c.strip() for c in rec):
            continue
        if len(rec) > len(header) and any(c.strip() for c in rec[len(header):]):
            errors.append(f"row {rownum}: has {len(rec)} values but the header has {len(header)} columns "
                          "(a stray comma, or a value in an unnamed column)")
            continue
        cells = {name: (rec[i].strip() if i < len(rec) else "") for name, i in columns.items()}
        row_errors: list[str] = []
        row = _parse_row(cells, rownum, channels, columns, row_errors)
        if row is not None and not row_errors:
            pid = row.person_id
            if pid in seen:
                row_errors.append(f"row {rownum}: person_id '{pid}' is a duplicate (already on row {seen[pid]})")
            elif pid.casefold() in seen_folded:
                other, other_row = seen_folded[pid.casefold()]
                row_errors.append(f"row {rownum}: person_id '{pid}' differs from '{other}' on row {other_row} "
                                  "only by upper/lower case; use one spelling")
            else:
                seen[pid] = rownum
                seen_folded[pid.casefold()] = (pid, rownum)
                rows.append(row)
        errors.extend(row_errors)
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        more = " (stopped after the first 20 problems)" if len(errors) >= MAX_ERRORS else ""
        raise RegisterError(
            f"{source} was not imported; nothing in the register changed. Fix these rows and import it again "
            f"(row numbers as in a spreadsheet, header = row 1){more}:\n  " + "\n  ".join(errors[:MAX_ERRORS])
        )
    if not rows:
        raise RegisterError(f"{source} was not imported: it has a header but no people.")
    return rows, notes


def _example_header(channels: Sequence[str]) -> str:
    return ",".join(["person_id", "given_name", "family_name", "group", "role", *channels, "expires", "never_publish",
                     "biometric"])


def _check_header(header: list[str], rownum: int, channels: Sequence[str], source: str) -> dict[str, int]:
    known = set(BASE_COLUMNS) | set(channels)
    problems = []
    if any(h == "" for h in header):
        problems.append(f"column {header.index('') + 1} has no name")
    dupes = sorted({h for h in header if h and header.count(h) > 1})
    if dupes:
        problems.append("repeated column(s): " + ", ".join(dupes))
    unknown = [h for h in header if h and h not in known]
    if unknown:
        problems.append("unknown column(s): " + ", ".join(unknown) +
                        f" (the channels in pipeline.toml are: {', '.join(channels)})")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        problems.append("missing column(s): " + ", ".join(missing))
    if problems:
        raise RegisterError(
            f"{source} was not imported: the header (row {rownum}) is wrong — " + "; ".join(problems) +
            f". Expected: {_example_header(channels)}"
        )
    return {h: i for i, h in enumerate(header)}


def _yes_no(value: str) -> bool | None:
    v = value.strip().lower()
    if v in YES:
        return True
    if v in NO:
        return False
    return None


CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# text-direction controls (bidi embeddings, overrides, isolates and marks): invisible, yet they can make a
# name show back to front or out of place in every list
BIDI_RE = re.compile("[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")


def _parse_row(cells: dict[str, str], rownum: int, channels: Sequence[str], columns: dict[str, int],
               errors: list[str]) -> RegisterRow | None:
    for name, value in cells.items():
        if CONTROL_RE.search(value):
            errors.append(f"row {rownum}, column {name}: contains a line break or an invisible control character")
        elif BIDI_RE.search(value):
            errors.append(f"row {rownum}, column {name}: contains an invisible text direction character (it can "
                          "make text show back to front); type the value again without copying it")
    if errors:
        return None
    pid = cells["person_id"]
    if not pid:
        errors.append(f"row {rownum}: person_id is empty")
    elif not ID_RE.match(pid):
        errors.append(f"row {rownum}: person_id '{pid}' may only use letters, digits, '_', '-' and '.' "
                      "(no spaces), up to 64 characters")
    for col in ("given_name", "family_name"):
        if not cells[col]:
            errors.append(f"row {rownum}: {col} is empty")
    role = None
    if "role" in columns:
        role = cells["role"].lower() or "pupil"
        if role not in ("pupil", "staff"):
            errors.append(f"row {rownum}, column role: '{cells['role']}' is not pupil or staff")
    expires = None
    if "expires" in columns:
        expires = cells["expires"]
        if expires:
            problem = explain_date(expires)
            if problem:
                errors.append(f"row {rownum}, column expires: {problem}")
    never = None
    if "never_publish" in columns:
        raw = cells["never_publish"]
        never = False if raw == "" else _yes_no(raw)
        if never is None:
            errors.append(f"row {rownum}, column never_publish: '{raw}' is not yes or no")
    biometric = None
    if "biometric" in columns:
        raw = cells["biometric"]
        biometric = False if raw == "" else _yes_no(raw)
        if biometric is None:
            errors.append(f"row {rownum}, column biometric: '{raw}' is not yes or no "
                          "(yes only with a parent's written consent to reference photos)")
    consents = {}
    for channel in channels:
        raw = cells.get(channel, "")
        if raw == "":
            consents[channel] = "refused"
            continue
        ok = _yes_no(raw)
        if ok is None:
            errors.append(f"row {rownum}, column {channel}: '{raw}' is not yes or no")
        consents[channel] = "granted" if ok else "refused"
    if errors:
        return None
    return RegisterRow(rownum, pid, cells["given_name"], cells["family_name"],
                       cells["group"] if "group" in columns else None, role, expires, never, consents, biometric)


# ---------------------------------------------------------------- applying

def import_register(conn, path: str | Path, channels: Sequence[str], *, actor: str,
                    max_bytes: int = DEFAULT_MAX_BYTES) -> ImportSummary:
    """Check the whole file, then apply it in one transaction. Raises RegisterError (nothing changed).

    The file is read through the gate (``processors.gate``): a regular file, not a link, a pipe or
    a device, and at most ``max_bytes`` (``[limits] max_register_mb``), refused before it is read.
    """
    path = Path(path)
    shown = display(path)
    try:
        data = read_input(path, max_bytes=max_bytes)
    except Refused as exc:
        if exc.kind == "missing":
            raise RegisterError(f"{shown} does not exist. Check the file name and folder.") from None
        if exc.kind == "folder":
            raise RegisterError(f"{shown} is a folder; give the register CSV file.") from None
        if exc.kind == "denied":
            raise RegisterError(f"{shown} cannot be read (permission denied).") from None
        if exc.kind == "too_large":
            raise RegisterError(f"{shown} was not imported: it is larger than {max_bytes / 1024 / 1024:g} MB "
                                "([limits] max_register_mb in pipeline.toml); a register of a whole school is "
                                "far smaller, so check it is the right file.") from None
        raise RegisterError(f"{shown} was not imported: {exc.why}.") from None
    rows, notes = read_register_csv(data, channels, display(path.name))
    del data
    return apply_rows(conn, rows, channels, source=display(path.name), actor=actor, notes=notes)


def apply_rows(conn, rows: list[RegisterRow], channels: Sequence[str], *, source: str, actor: str,
               notes: list[str] | None = None) -> ImportSummary:
    summary = ImportSummary(source=source, notes=list(notes or []))
    reason = f"import {source}"
    at = now_iso()
    conn.execute("PRAGMA secure_delete = ON")  # biometric consent turned off erases reference photos
    with transaction(conn):
        existing = {r["person_id"]: r for r in conn.execute(
            "SELECT person_id, given_name, family_name, grp, role, expires, never_publish, forgotten_at, biometric"
            " FROM people")}
        old_consents: dict[tuple[str, str], tuple[str, str | None]] = {
            (r[0], r[1]): (r[2], r[3]) for r in conn.execute("SELECT person_id, channel, status, expires FROM consents")}
        folded = {pid.casefold(): pid for pid in existing}
        clashes = [f"row {r.row}: person_id '{r.person_id}' differs from '{folded[r.person_id.casefold()]}' "
                   "already in the register only by upper/lower case; use the same spelling"
                   for r in rows if r.person_id not in existing and r.person_id.casefold() in folded]
        if clashes:
            raise RegisterError(f"{source} was not imported; nothing in the register changed:\n  " + "\n  ".join(clashes))
        new_people, person_updates, touched, consent_upserts, hist = [], [], [], [], []
        file_ids = set()
        biometric_off: list[str] = []
        for row in rows:
            pid = row.person_id
            file_ids.add(pid)
            old = existing.get(pid)
            person_changed = consent_changed = False
            if old is not None and old["forgotten_at"] is not None:
                # erased stays erased: nothing of this row is stored (not even its name)
                summary.erased_skipped.append((pid, old["forgotten_at"][:10]))
                continue
            erased = lookup_erased(conn, pid) if old is None else None
            if erased is not None:  # forgotten under a pseudonymous tombstone (the id spelt the name)
                summary.erased_skipped.append((pid, erased[1][:10]))
                continue
            if old is None:
                new_people.append((pid, row.given_name, row.family_name, row.group or "", row.role or "pupil",
                                   row.expires or None, int(bool(row.never_publish)), int(bool(row.biometric)),
                                   at, at))
                hist.append((at, pid, None, "added", None, "in register", reason, actor))
                if row.expires:
                    hist.append((at, pid, None, "expires", None, row.expires, reason, actor))
                if row.never_publish:
                    hist.append((at, pid, None, "never_publish", None, "yes", reason, actor))
                hist.append((at, pid, None, "biometric", None, _yn(bool(row.biometric)), reason, actor))
                summary.added.append(pid)
            else:
                new = {
                    "given_name": row.given_name, "family_name": row.family_name,
                    "grp": old["grp"] if row.group is None else row.group,
                    "role": old["role"] if row.role is None else row.role,
                    "expires": old["expires"] if row.expires is None else (row.expires or None),
                    "never_publish": old["never_publish"] if row.never_publish is None else int(row.never_publish),
                    "biometric": old["biometric"] if row.biometric is None else int(row.biometric),
                }
                for col, value in new.items():
                    if old[col] == value:
                        continue
                    person_changed = True
                    ov, nv = old[col], value
                    if col in ("never_publish", "biometric"):
                        ov, nv = _yn(bool(ov)), _yn(bool(nv))
                        if col == "never_publish" and old[col] and not value:
                            summary.never_publish_cleared.append(pid)
                        if col == "biometric" and old[col] and not value:
                            biometric_off.append(pid)
                    hist.append((at, pid, None, "group" if col == "grp" else col, ov, nv, reason, actor))
                if person_changed:
                    person_updates.append((new["given_name"], new["family_name"], new["grp"], new["role"],
                                           new["expires"], new["never_publish"], new["biometric"], at, pid))
            for channel in channels:
                status = row.consents[channel]
                prev_status, prev_expires = old_consents.get((pid, channel), (None, None))
                if prev_status == "withdrawn":
                    # withdrawn with `consent set`: an import never re-grants it (nor turns it into refused)
                    if status == "granted":
                        summary.kept_withdrawn.append((pid, channel))
                    continue
                if prev_status != status:
                    consent_upserts.append((pid, channel, status, prev_expires, at))
                    hist.append((at, pid, channel, "status", prev_status, status, reason, actor))
                    consent_changed = True
            if old is not None:
                if person_changed or consent_changed:
                    summary.updated.append(pid)
                    if not person_changed:
                        touched.append((at, pid))
                else:
                    summary.unchanged.append(pid)
        conn.executemany(
            "INSERT INTO people(person_id, given_name, family_name, grp, role, expires, never_publish, biometric, "
            "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)", new_people)
        conn.executemany(
            "UPDATE people SET given_name=?, family_name=?, grp=?, role=?, expires=?, never_publish=?, biometric=?, "
            "updated_at=? WHERE person_id=?", person_updates)
        for pid in biometric_off:  # no biometric consent: no reference photo may be kept
            erased = erase_reference_encodings(conn, pid)
            summary.biometric_withdrawn.append((pid, erased))
            if erased:
                hist.append((at, pid, None, "reference_photos", str(erased), "0",
                             f"{reason}: biometric consent is no, reference photos erased", actor))
        conn.executemany(
            "INSERT INTO consents(person_id, channel, status, expires, updated_at) VALUES (?,?,?,?,?) "
            "ON CONFLICT(person_id, channel) DO UPDATE SET status=excluded.status, updated_at=excluded.updated_at",
            consent_upserts)
        conn.executemany("UPDATE people SET updated_at=? WHERE person_id=?", touched)
        insert_history(conn, hist)
        summary.history_rows = len(hist)
        summary.not_in_file = sum(1 for pid, r in existing.items() if pid not in file_ids and r["forgotten_at"] is None)
        record_event(conn, "consent.import", actor, None, {
            "source": source, "added": len(summary.added), "updated": len(summary.updated),
            "unchanged": len(summary.unchanged), "restored": len(summary.restored),
            "not_in_file": summary.not_in_file, "history_rows": len(hist),
            "skipped_erased": len(summary.erased_skipped),  # a count: an erased id may spell the name
            "biometric_withdrawn": [p for p, _ in summary.biometric_withdrawn],
        }, at=at)
    if any(n for _, n in summary.biometric_withdrawn):
        from consent.lifecycle import checkpoint

        checkpoint(conn)
    return summary


def _yn(value: bool) -> str:
    return "yes" if value else "no"
