"""Job rows: one per input file, received -> processing -> done, so a crash loses nothing."""
from __future__ import annotations

import json
import re
import sqlite3

import numpy as np

from consent.database import now_iso, transaction
from pipeline.video.tracks import save_tracks


# What staff (their uploads) and comms (photos not released) are told of a blocked photo. Why it was
# blocked — a pupil on the never-publish list, a reviewer's decision — is for the safeguarding lead
# (the review queue, the audit trail): a member of staff who photographed one child would otherwise
# learn that this child is never to be published.
BLOCKED_WORDS = "It will not be published. The safeguarding lead has the details."
DUPLICATE_WORDS = "The same photo had been sent before; this copy follows what became of it."


def shown_reason(status: str | None, reason: str | None) -> str:
    """A job's reason as staff and comms see it: a blocked photo's cause is withheld; a copy of an
    earlier photo does not name that photo's file, folder or reviewer; nobody's account is named."""
    reason = reason or ""
    if status == "blocked":
        return BLOCKED_WORDS
    if reason.startswith("duplicate of "):
        return DUPLICATE_WORDS
    return re.sub(r" \((released|blocked) on review by [^()]*\)", r" (\1 on review)", reason)


def create(conn: sqlite3.Connection, source: str, sha256: str | None, actor: str) -> int:
    cur = conn.execute(
        "INSERT INTO jobs(source, sha256, state, received_at, actor) VALUES (?,?,?,?,?)",
        (source, sha256, "received", now_iso(), actor),
    )
    return int(cur.lastrowid)


def get(conn: sqlite3.Connection, job_id: int) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()


def by_sha(conn: sqlite3.Connection, sha256: str) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM jobs WHERE sha256=? ORDER BY id", (sha256,)).fetchall()


def unfinished(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM jobs WHERE state != 'done' ORDER BY id").fetchall()


def mark_processing(conn: sqlite3.Connection, job_id: int, original_path: str) -> None:
    conn.execute("UPDATE jobs SET state='processing', original_path=?, started_at=? WHERE id=?",
                 (original_path, now_iso(), job_id))


def encoding_blob(encoding) -> bytes | None:
    return None if encoding is None else np.asarray(encoding, dtype="<f8").tobytes()


def encoding_from_blob(blob: bytes | None):
    return None if blob is None else np.frombuffer(blob, dtype="<f8").copy()


def finish(conn: sqlite3.Connection, job_id: int, record: dict, *, faces: list[dict], caption: str | None,
           original_path: str | None, size: tuple[int, int] | None, taken_date: str | None,
           tracks: list[dict] | None = None) -> None:
    """Record the outcome, the faces (and a clip's ``tracks``) and the outputs of a job in one transaction."""
    now = now_iso()
    with transaction(conn):
        conn.execute("DELETE FROM faces WHERE job_id=?", (job_id,))
        conn.executemany(
            "INSERT INTO faces(job_id, idx, box, encoding, person_id, distance, match, candidates, decisions)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            [(job_id, i, json.dumps(list(f["box"])), encoding_blob(f.get("encoding")), f.get("person"),
              f.get("distance"), f["match"], json.dumps(f.get("candidates", [])), json.dumps(f["decisions"]))
             for i, f in enumerate(faces)],
        )
        if tracks is not None:
            save_tracks(conn, job_id, tracks)
        for channel, path in record.get("outputs", {}).items():
            conn.execute(
                "INSERT INTO outputs(job_id, channel, path, caption, sha256, state, created_at, updated_at)"
                " VALUES (?,?,?,?,?,'live',?,?)"
                " ON CONFLICT(job_id, channel) DO UPDATE SET path=excluded.path, caption=excluded.caption,"
                " sha256=excluded.sha256, state='live', updated_at=excluded.updated_at",
                (job_id, channel, path, record.get("captions", {}).get(channel),
                 record["_output_sha"][channel], now, now),
            )
        public = {k: v for k, v in record.items() if not k.startswith("_")}
        conn.execute(
            "UPDATE jobs SET state='done', status=?, reason=?, original_path=?, caption=?, width=?, height=?,"
            " taken_date=?, metadata_found=?, result_json=?, finished_at=? WHERE id=?",
            (record["status"], record["reason"], original_path, caption,
             size[0] if size else None, size[1] if size else None, taken_date,
             json.dumps(record.get("metadata_found", [])), json.dumps(public, ensure_ascii=False), now, job_id),
        )
        conn.execute("INSERT INTO events(at, actor, kind, detail) VALUES (?,?,?,?)",
                     (now, record.get("_actor", "pipeline"), "job.done",
                      json.dumps({"job_id": job_id, "status": record["status"], "reason": record["reason"]})))
