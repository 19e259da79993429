"""Forgotten ids stay forgotten, even when the id itself spelt the person's name.

Every forgotten id is recorded by a salted SHA-256 of the id (``erased_ids``), so an import can
recognise and skip it whatever the register says. When the id contains the person's name (``amelia.hart``,
``AHart``, a folder-style id ``obama``), ``consent forget`` replaces it everywhere by a pseudonymous
tombstone (``erased-<12 hex>``): the audit trail keeps its history without the name.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import unicodedata

ID_CHARS = "A-Za-z0-9_.-"


def _salt(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT salt FROM privacy_salt").fetchone()
    if row:
        return row[0]
    salt = secrets.token_hex(16)
    conn.execute("INSERT INTO privacy_salt(salt) VALUES (?)", (salt,))
    return salt


def digest(conn: sqlite3.Connection, person_id: str) -> str:
    return hashlib.sha256((_salt(conn) + person_id.casefold()).encode("utf-8")).hexdigest()


def record(conn: sqlite3.Connection, person_id: str, at: str) -> None:
    """Remember that ``person_id`` was forgotten (inside the caller's transaction)."""
    conn.execute("INSERT OR IGNORE INTO erased_ids(digest, tombstone, erased_on) VALUES (?,?,?)",
                 (digest(conn, person_id), person_id, at))


def lookup(conn: sqlite3.Connection, person_id: str) -> tuple[str, str] | None:
    """``(tombstone id, erased on)`` when ``person_id`` was forgotten, else None."""
    if conn.execute("SELECT 1 FROM privacy_salt").fetchone() is None:
        return None
    row = conn.execute("SELECT tombstone, erased_on FROM erased_ids WHERE digest=?",
                       (digest(conn, person_id),)).fetchone()
    return (row[0], row[1]) if row else None


def forget_record(conn: sqlite3.Connection, person_id: str) -> None:
    conn.execute("DELETE FROM erased_ids WHERE digest=?", (digest(conn, person_id),))


def _letters(text: str) -> str:
    folded = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.sub(r"[^a-z]", "", folded.casefold())


def spells_name(person_id: str, names: list[str]) -> bool:
    """Whether the id contains one of the names (letters only, any case, accents ignored)."""
    pid = _letters(person_id)
    return any(len(_letters(n)) >= 3 and _letters(n) in pid for n in names if n)


def rename_everywhere(conn: sqlite3.Connection, old: str, new: str) -> int:
    """Replace the id ``old`` by ``new`` in every text value of every table (whole ids only)."""
    pattern = re.compile(rf"(?<![{ID_CHARS}]){re.escape(old)}(?![{ID_CHARS}])")
    changed = 0
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"
                                                 " AND name NOT LIKE 'sqlite_%'")]
            for table in tables:
                if table in ("schema_migrations", "privacy_salt"):
                    continue
                cols = [c[1] for c in conn.execute(f'PRAGMA table_info("{table}")')]
                for row in conn.execute(f'SELECT rowid AS _rid, * FROM "{table}"').fetchall():
                    for col in cols:
                        value = row[col]
                        if isinstance(value, str) and old in value:
                            new_value = pattern.sub(new, value)
                            if new_value != value:
                                conn.execute(f'UPDATE "{table}" SET "{col}"=? WHERE rowid=?', (new_value, row["_rid"]))
                                changed += 1
            if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
                raise sqlite3.IntegrityError("renaming a forgotten id broke a reference")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.execute("PRAGMA foreign_keys = ON")
    return changed
