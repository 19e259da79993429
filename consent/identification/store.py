"""Keep the calibrated identification rule in the workspace database, with its basis, and compute it
again whenever the reference photos (or the settings it depends on) change."""
from __future__ import annotations

import json
import sqlite3

from consent.database import now_iso, transaction
from consent.identification.calibration import Calibration, calibrate, fingerprint
from consent.register import load_reference_encodings

MIGRATIONS = [
    # 1: the current identification rule and what it was derived from (one row)
    """
    CREATE TABLE identification_calibration (
        id            INTEGER PRIMARY KEY CHECK (id = 1),
        fingerprint   TEXT NOT NULL,     -- reference photo ids + settings the rule was computed from
        computed_at   TEXT NOT NULL,
        people        INTEGER NOT NULL,  -- people with reference photos
        pairs         INTEGER NOT NULL,  -- impostor comparisons used
        target        REAL NOT NULL,     -- expected false identifications per never-enrolled face
        threshold     REAL NOT NULL,     -- identified only within this distance
        calibrated    INTEGER NOT NULL,  -- 0: too few people, fallback rule
        detail        TEXT NOT NULL      -- JSON: the whole calibration (fit, margins, look-alike pairs)
    );
    """,
]


def _settings(faces_cfg: dict) -> tuple[float, float, float]:
    return (float(faces_cfg.get("identification_target", 1e-4)), float(faces_cfg["match_tolerance"]),
            float(faces_cfg["margin"]))


def reference_keys(conn: sqlite3.Connection) -> list[str]:
    return [f"{r[0]}:{r[1]}" for r in conn.execute(
        "SELECT r.id, r.person_id FROM reference_encodings r JOIN people p ON p.person_id = r.person_id "
        "WHERE p.forgotten_at IS NULL AND p.biometric = 1 ORDER BY r.id")]


def stored_calibration(conn: sqlite3.Connection) -> tuple[Calibration, str] | None:
    """``(calibration, computed_at)`` as last stored, or None."""
    row = conn.execute("SELECT detail, computed_at FROM identification_calibration WHERE id = 1").fetchone()
    if row is None:
        return None
    return Calibration.from_json(json.loads(row[0])), row[1]


def current_calibration(conn: sqlite3.Connection, faces_cfg: dict, *, encodings=None) -> Calibration:
    """The rule for the register as it is now: the stored one if its basis is unchanged, else computed
    again (and stored). ``encodings`` may pass ``load_reference_encodings(conn)`` already read."""
    target, tolerance, margin = _settings(faces_cfg)
    fp = fingerprint(reference_keys(conn), target, tolerance, margin)
    stored = stored_calibration(conn)
    if stored is not None and stored[0].fingerprint == fp:
        return stored[0]
    ids, matrix = encodings if encodings is not None else load_reference_encodings(conn)
    cal = calibrate(ids, matrix, target=target, match_tolerance=tolerance, margin=margin, basis=fp)
    save(conn, cal)
    return cal


def recalibrate(conn: sqlite3.Connection, faces_cfg: dict) -> Calibration:
    """Compute the rule again now (after an enrolment, a forget or an import)."""
    return current_calibration(conn, faces_cfg)


def save(conn: sqlite3.Connection, cal: Calibration) -> None:
    try:
        with transaction(conn):
            conn.execute(
                "INSERT OR REPLACE INTO identification_calibration(id, fingerprint, computed_at, people, pairs, target,"
                " threshold, calibrated, detail) VALUES (1,?,?,?,?,?,?,?,?)",
                (cal.fingerprint, now_iso(), cal.people, cal.pairs, cal.target, cal.threshold, int(cal.calibrated),
                 json.dumps(cal.to_json())))
    except sqlite3.OperationalError as exc:   # a read-only database: the rule is still computed and applied
        if "readonly" not in str(exc):
            raise
