"""The audit agrees with the pipeline: faces a reviewer confirmed, and positions in words.

* ``reviewer_identities(conn, sha, size, faces)`` — when an audited file is one the pipeline itself
  released (or took in), the faces a reviewer confirmed there are that person for the audit too, matched
  to the audited faces by position (the released image is the original, resized). A face confirmed as
  someone without a reference photo is then "that person", not "not in the register".
* ``position_words(box, size)`` — "top left", "centre", "bottom right" … from the face's centre.
"""
from __future__ import annotations

import json
import sqlite3


def position_words(box, size: tuple[int, int] | None) -> str | None:
    """Where a face is in the picture, in words, from its centre (thirds of the width and height)."""
    if not size or not size[0] or not size[1]:
        return None
    top, right, bottom, left = box
    x = (left + right) / 2 / size[0]
    y = (top + bottom) / 2 / size[1]
    row = "top" if y < 1 / 3 else "bottom" if y > 2 / 3 else ""
    col = "left" if x < 1 / 3 else "right" if x > 2 / 3 else ""
    return " ".join(p for p in (row, col) if p) or "centre"


def _iou(a, b) -> float:
    at, ar, ab, al = a
    bt, br, bb, bl = b
    w = min(ar, br) - max(al, bl)
    h = min(ab, bb) - max(at, bt)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (ar - al) * (ab - at) + (br - bl) * (bb - bt) - inter
    return inter / union if union > 0 else 0.0


def reviewer_identities(conn: sqlite3.Connection | None, sha: str | None, size: tuple[int, int] | None,
                        faces: list[dict]) -> dict[int, str]:
    """{audited face index: person id} for faces a reviewer confirmed in the job this file came from."""
    if conn is None or not sha or not size or not size[0] or not faces:
        return {}
    try:
        rows = conn.execute(
            "SELECT j.id, j.width FROM jobs j WHERE j.sha256 = ? OR j.original_sha256 = ? OR j.id IN"
            " (SELECT job_id FROM outputs WHERE sha256 = ?) ORDER BY j.id", (sha, sha, sha)).fetchall()
    except sqlite3.DatabaseError:
        return {}
    out: dict[int, str] = {}
    for job_id, width in rows:
        if not width:
            continue
        scale = size[0] / width
        confirmed = [(tuple(v * scale for v in json.loads(box)), who) for box, who in conn.execute(
            "SELECT box, confirmed_person FROM faces WHERE job_id=? AND confirmed_person IS NOT NULL"
            " AND confirmed_person != 'unknown'", (job_id,))]
        for i, face in enumerate(faces):
            if i in out:
                continue
            best = max(confirmed, key=lambda c: _iou(face["box"], c[0]), default=None)
            if best is not None and _iou(face["box"], best[0]) >= 0.3:
                out[i] = best[1]
    return out
