"""Released images of one channel for the comms lead, as the console shows them: pages, thumbnails,
downloads (one, or several as a zip) and "posted" marks.

A download is a hand-over like ``pipeline pull``: it is recorded in ``pulls`` (who, when, which
version), so a later consent change raises a takedown for it. Marking an image posted records it in
``postings`` (and as a hand-over if it never was one), for the same reason. Thumbnails of released
(already redacted) images are made once and kept in ``thumbnails/`` (private); a re-rendered image
gets a new one (the name carries the content hash).
"""
from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path, PurePosixPath

from PIL import Image

from consent.database import migrate, now_iso, transaction
from consent.register import record_event
from pipeline.errors import UserError
from pipeline.jobs import shown_reason
from processors.output import encode_jpeg, write_atomic

MIGRATIONS = [
    """
    CREATE TABLE postings (
        id            INTEGER PRIMARY KEY,
        output_id     INTEGER NOT NULL REFERENCES outputs(id),
        output_sha256 TEXT NOT NULL,
        channel       TEXT NOT NULL,
        at            TEXT NOT NULL,
        actor         TEXT NOT NULL
    );
    CREATE INDEX postings_output ON postings(output_id);
    CREATE INDEX IF NOT EXISTS outputs_channel_created ON outputs(channel, created_at);
    CREATE INDEX IF NOT EXISTS pulls_output ON pulls(output_id);
    """,
]
PER_PAGE = 48
THUMB_EDGE = 320


def ensure_schema(conn) -> None:
    migrate(conn, "gallery", MIGRATIONS)


def _check_channel(ws, channel: str) -> None:
    if channel not in ws.config.channels:
        raise UserError(f"unknown channel '{channel}'. Channels in pipeline.toml: {', '.join(ws.config.channels)}.")


def source_parts(source: str) -> tuple[str, str]:
    """(staff folder, original file name) of a job's source path ('inbox/<folder>/…/<name>')."""
    parts = PurePosixPath(str(source).replace("\\", "/")).parts
    name = parts[-1] if parts else ""
    folder = parts[1] if len(parts) > 2 and parts[0] == "inbox" else ""
    return folder, name


_LIVE = ("FROM outputs o JOIN jobs j ON j.id = o.job_id "
         "WHERE o.channel=? AND o.state='live' AND j.status='released'")


def prune_thumbnails(ws, channel: str) -> int:
    """Remove thumbnails of images no longer released as they were (retracted or re-rendered after a
    consent change), so no small copy of an old version lingers on disk; returns how many."""
    folder = Path(ws.root) / "thumbnails" / channel
    if not folder.is_dir():
        return 0
    live = {f"{r[0]}-{r[1][:16]}.jpg" for r in ws.db.execute(f"SELECT o.id, o.sha256 {_LIVE}", (channel,))}
    removed = 0
    for entry in list(folder.iterdir()):
        if entry.name not in live:
            entry.unlink(missing_ok=True)
            removed += 1
    return removed


def approved_page(ws, channel: str, *, page: int = 1, per_page: int = PER_PAGE) -> dict:
    """One page (newest first) of the channel's released images, with what the comms lead needs to see."""
    _check_channel(ws, channel)
    ensure_schema(ws.db)
    prune_thumbnails(ws, channel)
    total = ws.db.execute(f"SELECT count(*) {_LIVE}", (channel,)).fetchone()[0]
    pages = max(1, -(-total // per_page))
    page = min(max(1, int(page)), pages)
    rows = ws.db.execute(
        "SELECT o.id, o.job_id, o.path, o.caption, o.sha256, o.created_at, j.source, j.taken_date,"
        " EXISTS (SELECT 1 FROM pulls p WHERE p.output_id=o.id AND p.output_sha256=o.sha256) AS handed_out,"
        " (SELECT max(s.at) FROM postings s WHERE s.output_id=o.id AND s.output_sha256=o.sha256) AS posted_at "
        f"{_LIVE} ORDER BY o.created_at DESC, o.id DESC LIMIT ? OFFSET ?",
        (channel, per_page, (page - 1) * per_page)).fetchall()
    items = []
    for r in rows:
        folder, name = source_parts(r["source"])
        items.append({"output_id": r["id"], "job_id": r["job_id"], "file": PurePosixPath(r["path"]).name,
                      "caption": r["caption"] or "", "released_at": r["created_at"], "taken": r["taken_date"],
                      "staff_folder": folder, "original_name": name, "handed_out": bool(r["handed_out"]),
                      "posted_at": r["posted_at"], "sha256": r["sha256"]})
    return {"channel": channel, "page": page, "pages": pages, "total": total, "per_page": per_page, "items": items}


def _live_output(ws, channel: str, output_id: int):
    _check_channel(ws, channel)
    try:
        row = ws.db.execute(f"SELECT o.* {_LIVE} AND o.id=?", (channel, int(output_id))).fetchone()
    except OverflowError:  # an id beyond SQLite's INTEGER range: no such image
        row = None
    if row is None:
        raise UserError(f"Image {output_id} is not a released image of {channel} (it may have been taken back).")
    return row


def _checked_bytes(ws, row) -> bytes:
    path = Path(ws.root) / row["path"]
    if path.is_symlink() or not path.is_file():
        raise UserError(f"The released file {row['path']} is missing from approved/; it cannot be handed out.")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != row["sha256"]:
        raise UserError(f"The released file {row['path']} on disk is not the one the pipeline wrote; "
                        "it is not handed out.")
    return data


def thumbnail(ws, channel: str, output_id: int) -> bytes:
    """A small JPEG of a released image, made once and kept in thumbnails/<channel>/."""
    row = _live_output(ws, channel, output_id)
    folder = Path(ws.root) / "thumbnails" / channel
    path = folder / f"{int(output_id)}-{row['sha256'][:16]}.jpg"
    if path.is_file():
        return path.read_bytes()
    data = _checked_bytes(ws, row)
    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (THUMB_EDGE, THUMB_EDGE))
        thumb = encode_jpeg(im.convert("RGB"), max_edge=THUMB_EDGE, quality=80)
    folder.mkdir(parents=True, exist_ok=True)
    (Path(ws.root) / "thumbnails").chmod(0o700)
    write_atomic(path, thumb, mode=0o600)
    return thumb


def record_pull(conn, output_id: int, sha256: str, channel: str, dest: str, actor: str) -> int:
    """Record one hand-over of an output version (what a later takedown relies on); returns its id."""
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO pulls(output_id, output_sha256, channel, dest, pulled_at, actor) VALUES (?,?,?,?,?,?)",
            (output_id, sha256, channel, dest, now_iso(), actor))
        return cur.lastrowid


def hand_out(ws, channel: str, output_id: int, *, actor: str) -> tuple[str, bytes]:
    """The released file (neutral name, bytes) of one image, recorded as handed to ``actor``."""
    row = _live_output(ws, channel, output_id)
    data = _checked_bytes(ws, row)
    record_pull(ws.db, row["id"], row["sha256"], channel, f"console download by {actor}", actor)
    record_event(ws.db, "pull", actor, None, {"channel": channel, "dest": "console download", "pulled": [row["id"]]})
    return PurePosixPath(row["path"]).name, data


def hand_out_zip(ws, channel: str, output_ids: list[int], *, actor: str) -> tuple[str, bytes]:
    """Several released images (with caption files) as one zip, each recorded as handed to ``actor``."""
    ids = list(dict.fromkeys(int(i) for i in output_ids))
    if not ids:
        raise UserError("Tick at least one photo to download.")
    if len(ids) > 500:
        raise UserError("Download at most 500 photos at a time.")
    rows = [_live_output(ws, channel, i) for i in ids]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for row in rows:
            name = PurePosixPath(row["path"]).name
            zf.writestr(name, _checked_bytes(ws, row))
            if row["caption"]:
                zf.writestr(PurePosixPath(name).with_suffix(".txt").name, row["caption"] + "\n")
    for row in rows:
        record_pull(ws.db, row["id"], row["sha256"], channel, f"console download (zip) by {actor}", actor)
    record_event(ws.db, "pull", actor, None, {"channel": channel, "dest": "console download (zip)",
                                             "pulled": [r["id"] for r in rows]})
    return f"{channel}-{now_iso()[:10]}.zip", buf.getvalue()


def mark_posted(ws, channel: str, output_id: int, *, actor: str) -> None:
    """Record that an image was posted on its channel (a later consent change then asks for a takedown)."""
    row = _live_output(ws, channel, output_id)
    ensure_schema(ws.db)
    at = now_iso()
    handed = ws.db.execute("SELECT 1 FROM pulls WHERE output_id=? AND output_sha256=?",
                           (row["id"], row["sha256"])).fetchone()
    if handed is None:
        record_pull(ws.db, row["id"], row["sha256"], channel, f"posted on {channel} (marked by {actor})", actor)
    with transaction(ws.db):
        ws.db.execute("INSERT INTO postings(output_id, output_sha256, channel, at, actor) VALUES (?,?,?,?,?)",
                      (row["id"], row["sha256"], channel, at, actor))
        record_event(ws.db, "output.posted", actor, None, {"channel": channel, "output_id": row["id"],
                                                            "job_id": row["job_id"]}, at=at)


def not_released(ws, *, limit: int = 200) -> list[dict]:
    """The newest photos that were held, blocked or rejected, with the reason (text only, no pictures)."""
    rows = ws.db.execute("SELECT id, source, status, reason, received_at FROM jobs WHERE state='done' AND "
                         "status IN ('review','blocked','rejected') ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    out = []
    for r in rows:
        folder, name = source_parts(r["source"])
        out.append({"job_id": r["id"], "status": r["status"], "reason": shown_reason(r["status"], r["reason"]),
                    "received_at": r["received_at"], "staff_folder": folder, "original_name": name})
    return out


__all__ = ["PER_PAGE", "approved_page", "prune_thumbnails", "thumbnail", "hand_out", "hand_out_zip", "mark_posted", "record_pull",
           "not_released", "source_parts", "ensure_schema"]
