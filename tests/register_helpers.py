"""Helpers for register tests: write a register CSV, dump the register tables for before/after comparisons."""
from __future__ import annotations

from pathlib import Path

HEADER = "person_id,given_name,family_name,group,role,website,social,newsletter,press,expires,never_publish,biometric"
ROWS = [
    "P001,Amelia,Hart,Y4,pupil,yes,no,yes,no,2027-08-31,no,yes",
    "P002,Zoë,Brontë,Y4,pupil,yes,yes,yes,yes,,no,yes",
    "P003,Siobhán,Ó Briain,Y5,,no,no,no,no,,yes,yes",
    "P004,Łukasz,Wójcik,Staff,staff,yes,yes,yes,yes,,,yes",
]
TABLES = ("people", "consents", "consent_history", "reference_encodings", "events")


def write_csv(path: Path, lines: list[str] | str, *, bom: bool = False, encoding: str = "utf-8",
              newline: str = "\r\n") -> Path:
    """Write a register file like a spreadsheet would (CRLF line ends by default)."""
    text = lines if isinstance(lines, str) else newline.join(lines) + newline
    data = text.encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    path.write_bytes(data)
    return path


def dump(conn) -> dict[str, list[tuple]]:
    """Every row of every register table, for 'nothing changed' checks."""
    return {t: sorted(tuple(r) for r in conn.execute(f"SELECT * FROM {t}")) for t in TABLES}


def all_text_in_db(conn) -> str:
    """Every text value of every table in the database, joined (to look for a name anywhere)."""
    parts = []
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    for t in tables:
        for row in conn.execute(f"SELECT * FROM {t}"):
            parts.extend(v for v in row if isinstance(v, str))
    return "\n".join(parts)
