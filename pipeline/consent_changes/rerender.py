"""Stored faces, re-decided with the current register, and the pixels to re-render them from.

Shared by review decisions (pipeline.review.queue) and consent-change propagation (pipeline.consent_changes.propagate):
nothing here detects faces again — the boxes and descriptors stored when the image was first
processed are matched against the register as it is now.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
from pathlib import Path

from PIL import Image

from pipeline.analyse import decide_faces, face_json
from pipeline.errors import UserError
from pipeline.jobs import encoding_from_blob
from pipeline.render import render_preview
from pipeline.text_in_picture import stored_texts
from processors.decode import RejectedImage, decode_image


@contextlib.contextmanager
def render_lock(ws):
    """One re-decision-and-render at a time per workspace (across processes and threads).

    Held by review releases and by consent propagation, so a release decided with the register as it
    was a moment ago can never overwrite — or slip past — a withdrawal being applied: whichever comes
    second sees the other's result.
    """
    fd = os.open(ws.root / ".render.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


class OriginalMissing(Exception):
    """The untouched original is no longer kept (purged, or removed by hand)."""


class OriginalChanged(OriginalMissing):
    """The kept original's bytes are not the ones processed (SHA-256 differs): nothing may be made from them."""

    def __init__(self, message: str, job_id: int, expected: str, found: str):
        super().__init__(message)
        self.job_id, self.expected, self.found = job_id, expected, found


def load_faces(conn: sqlite3.Connection, job_id: int) -> list[dict]:
    """The faces stored for a job, in index order, as the dicts the analysis and rendering use."""
    faces = []
    for r in conn.execute("SELECT * FROM faces WHERE job_id=? ORDER BY idx", (job_id,)):
        faces.append({
            "idx": r["idx"], "box": tuple(json.loads(r["box"])), "encoding": encoding_from_blob(r["encoding"]),
            "person": r["person_id"], "distance": r["distance"], "match": r["match"],
            "candidates": [tuple(c) for c in json.loads(r["candidates"] or "[]")],
            "confirmed": r["confirmed_person"], "decisions": json.loads(r["decisions"] or "{}"),
            "reasons": {},
        })
    return faces


def confirmations(faces: list[dict], people: dict) -> dict[int, str]:
    """Who each face is known to be without matching again.

    A reviewer's confirmation always counts. A face identified as someone who has since been
    forgotten (reference photos erased, so matching can no longer find them) stays that person,
    so the policy treats it as "not in the register" (redacted) rather than as a stranger. So does a
    face identified as someone whose template was erased when another person was forgotten
    (``pipeline.consent_changes.erasure``): it keeps the identity it was released with.
    """
    known = {}
    for i, f in enumerate(faces):
        if f.get("confirmed"):
            known[i] = f["confirmed"]
        elif f.get("match") == "identified" and f.get("person"):
            person = people.get(f["person"])
            if person is not None and (person.forgotten or f.get("encoding") is None):
                known[i] = f["person"]
    return known


def redecided(faces: list[dict], ctx) -> list[dict]:
    """Copies of ``faces`` decided again with the current register (the stored faces are untouched)."""
    ctx.refresh()
    work = [{"box": f["box"], "encoding": f["encoding"]} for f in faces]
    decide_faces(work, ctx, confirmed=confirmations(faces, ctx.people))
    for w, f in zip(work, faces):
        w["idx"] = f["idx"]
        w["confirmed"] = f.get("confirmed")
    return work


def job_row(conn: sqlite3.Connection, job_id: int) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
    if row is None:
        raise UserError(f"There is no image with id {job_id}. 'pipeline review list' shows the held images.")
    return row


def original_bytes(ws, job: sqlite3.Row) -> bytes:
    """The kept original's bytes, checked against the SHA-256 recorded for them.

    Raises OriginalMissing when it is gone, OriginalChanged when its bytes differ (edited in place, a
    hard link overwritten from outside, swapped): nothing may be released or re-rendered from it.
    """
    import hashlib

    rel = job["original_path"]
    path = ws.root / rel if rel else None
    if path is not None and path.is_symlink():
        raise OriginalChanged(f"the kept original of image {job['id']} ({rel}) was replaced by a link to another file",
                              job["id"], _expected_sha(job) or "", "symbolic link")
    if path is None or not path.is_file():
        raise OriginalMissing(f"the original of image {job['id']} is no longer kept"
                              + (f" ({rel})" if rel else ""))
    data = path.read_bytes()
    expected = _expected_sha(job)
    found = hashlib.sha256(data).hexdigest()
    if expected is None or found != expected:
        raise OriginalChanged(
            f"the kept original of image {job['id']} ({rel}) is not the photo that was processed: its content "
            f"changed afterwards (SHA-256 {found[:12]}…, expected {(expected or 'none recorded')[:12]}…)",
            job["id"], expected or "", found)
    return data


def _expected_sha(job: sqlite3.Row) -> str | None:
    keys = job.keys()
    if "original_sha256" in keys and job["original_sha256"]:
        return job["original_sha256"]
    return job["sha256"]


def decode_original(ws, job: sqlite3.Row, data: bytes) -> Image.Image:
    """Decode the original exactly as the first processing did (same orientation, so stored boxes line up)."""
    limits = ws.config["limits"]
    try:
        decoded = decode_image(data, name=Path(job["source"]).name,
                               max_bytes=int(limits["max_file_mb"] * 1024 * 1024),
                               max_pixels=int(limits["max_megapixels"] * 1_000_000))
    except RejectedImage as exc:
        raise OriginalMissing(f"the original of image {job['id']} can no longer be read ({exc.reason})") from None
    return decoded.image


def output_stem(job: sqlite3.Row) -> str:
    """Neutral output name ``<date>_<hash>``, the same one first processing uses."""
    return f"{job['received_at'][:10]}_{(job['sha256'] or str(job['id']))[:12]}"


def save_decisions(conn: sqlite3.Connection, job_id: int, faces: list[dict]) -> None:
    conn.executemany("UPDATE faces SET decisions=? WHERE job_id=? AND idx=?",
                     [(json.dumps(f["decisions"]), job_id, f["idx"]) for f in faces])


def update_result(conn: sqlite3.Connection, job: sqlite3.Row, faces: list[dict] | None = None,
                  **fields) -> None:
    """Keep the job's JSON record (DESIGN.md) in step with what is stored now."""
    record = json.loads(job["result_json"] or "{}")
    if faces is not None:
        record["faces"] = [face_json({**f, "candidates": f.get("candidates", [])}) for f in faces]
    record.update(fields)
    conn.execute("UPDATE jobs SET result_json=? WHERE id=?", (json.dumps(record, ensure_ascii=False), job["id"]))


def refresh_preview(ws, job: sqlite3.Row, work: list[dict]) -> None:
    """Render a held image's private review preview again with the decisions ``work``."""
    try:
        image = decode_original(ws, job, original_bytes(ws, job))
    except OriginalMissing:
        return  # the old preview stays; it redacts at least as much
    render_preview(ws, image, work, job["id"], texts=stored_texts(job))
