"""A clip's tracks in the record (``--json`` ``tracks``) and in the database (table ``tracks``).

Each track is one face followed through the clip: first and last frame (and their times), the box
path (``[frame, top, right, bottom, left]`` for every frame it was detected on, in upright frame
pixels), who it is and how each channel decided it. A track's index is its face's index in
``faces``, where review and consent changes keep its decisions up to date.
"""
from __future__ import annotations

import json


def track_json(track, face: dict, times: list[float]) -> dict:
    def at(i: int) -> float | None:
        return round(times[i], 3) if 0 <= i < len(times) else None

    return {"track": track.id, "first_frame": track.first, "last_frame": track.last,
            "first_time": at(track.first), "last_time": at(track.last),
            "person": face.get("person"), "match": face["match"],
            "distance": None if face.get("distance") is None else round(float(face["distance"]), 4),
            "decisions": dict(face["decisions"]), "frames_in_question": list(face.get("frames_in_question", [])),
            "samples": face.get("samples", 0),
            "boxes": [[f, *[int(v) for v in box]] for f, box in sorted(track.boxes.items())]}


def save_tracks(conn, job_id: int, tracks: list[dict]) -> None:
    """Replace the stored tracks of a job (inside the caller's transaction)."""
    conn.execute("DELETE FROM tracks WHERE job_id=?", (job_id,))
    conn.executemany(
        "INSERT INTO tracks(job_id, idx, first_frame, last_frame, first_time, last_time, person_id, match,"
        " decisions, frames_in_question, boxes) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [(job_id, t["track"], t["first_frame"], t["last_frame"], t["first_time"], t["last_time"], t["person"],
          t["match"], json.dumps(t["decisions"]), json.dumps(t["frames_in_question"]), json.dumps(t["boxes"]))
         for t in tracks])


def load_tracks(conn, job_id: int) -> list[dict]:
    rows = conn.execute("SELECT * FROM tracks WHERE job_id=? ORDER BY idx", (job_id,)).fetchall()
    return [{"track": r["idx"], "first_frame": r["first_frame"], "last_frame": r["last_frame"],
             "first_time": r["first_time"], "last_time": r["last_time"], "person": r["person_id"],
             "match": r["match"], "decisions": json.loads(r["decisions"]),
             "frames_in_question": json.loads(r["frames_in_question"]), "boxes": json.loads(r["boxes"])}
            for r in rows]
