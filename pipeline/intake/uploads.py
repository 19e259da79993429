"""Photos a member of staff uploads on the console: saved into their inbox folder, and what became of them.

``save_upload`` writes the file atomically into ``inbox/<folder>/`` (the watcher never sees half a
file) and records who uploaded it; ``uploads_of`` lists one person's uploads only, each with the
state of its job (waiting, released, held, blocked, rejected) and the reason.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from consent.database import migrate, now_iso, transaction
from consent.register import record_event
from pipeline.errors import UserError
from pipeline.jobs import shown_reason
from processors.output import write_new

MIGRATIONS = [
    """
    CREATE TABLE uploads (
        id          INTEGER PRIMARY KEY,
        uploader    TEXT NOT NULL,        -- the console account name
        source      TEXT NOT NULL,        -- path relative to the workspace, as the job will record it
        original    TEXT NOT NULL,        -- the file name as sent by the browser
        sha256      TEXT NOT NULL,
        size        INTEGER NOT NULL,
        uploaded_at TEXT NOT NULL
    );
    CREATE INDEX uploads_uploader ON uploads(uploader, id);
    """,
]
ALLOWED = {".jpg", ".jpeg", ".png", ".heic", ".heif", ".webp", ".mp4", ".mov", ".m4v", ".txt"}
STATUS_WORDS = {"released": "released", "review": "held for review", "blocked": "blocked", "rejected": "rejected"}


def ensure_schema(conn) -> None:
    migrate(conn, "uploads", MIGRATIONS)


def folder_name(name: str) -> str:
    """A safe inbox folder name for an account name (no leading or trailing dot). Two accounts never
    share one: ``console.accounts.add_user`` refuses a name whose folder another account has."""
    cleaned = re.sub(r"[^A-Za-z0-9._@-]+", "_", name or "").strip(".") or "staff"
    return cleaned[:64]


def _safe_file_name(name: str) -> str:
    """The browser's file name as a safe single name: no folders, control, text-direction (bidi, which
    could show "rtl\u202egpj.exe.jpg" as "rtlgpj.exe.jpg" reversed) or reserved characters, at most
    180 bytes in UTF-8 (file systems allow 255; room is left for " (2)")."""
    base = Path(str(name or "").replace("\\", "/")).name
    base = re.sub(r"[\x00-\x1f\x7f\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069/:*?\"<>|]+", "_", base).strip(" .")
    stem, suffix = Path(base).stem, Path(base).suffix[:10]
    while stem and len((stem + suffix).encode("utf-8")) > 180:
        stem = stem[:-1]
    return (stem + suffix) if stem else ("photo" + suffix)


def save_upload(ws, uploader: str, file_name: str, data: bytes, *, max_mb: float | None = None) -> dict:
    """Put one uploaded file into ``inbox/<uploader's folder>/`` and record it; returns the upload record."""
    name = _safe_file_name(file_name)
    suffix = Path(name).suffix.lower()
    if suffix not in ALLOWED:
        raise UserError(f"{name}: only photos and clips can be uploaded "
                        f"({', '.join(sorted(s for s in ALLOWED if s != '.txt'))}).")
    if not data:
        raise UserError(f"{name} is empty; choose the file again.")
    limit = max_mb if max_mb is not None else float(ws.config["console"]["upload_max_mb"])
    if len(data) > limit * 1024 * 1024:
        raise UserError(f"{name} is larger than {limit:g} MB; send a smaller file.")
    ensure_schema(ws.db)
    folder = Path(ws.root) / "inbox" / folder_name(uploader)
    folder.mkdir(parents=True, exist_ok=True)
    sha = hashlib.sha256(data).hexdigest()
    target = write_new(folder, name, data, mode=0o640)  # " (2)" when taken, even by an upload this very moment
    source = f"inbox/{folder.name}/{target.name}"
    at = now_iso()
    with transaction(ws.db):
        cur = ws.db.execute("INSERT INTO uploads(uploader, source, original, sha256, size, uploaded_at) "
                            "VALUES (?,?,?,?,?,?)", (uploader, source, Path(str(file_name)).name[:200], sha,
                                                      len(data), at))
        record_event(ws.db, "upload", uploader, None, {"source": source, "sha256": sha, "size": len(data)}, at=at)
    return {"id": cur.lastrowid, "source": source, "name": target.name, "sha256": sha}


def uploads_of(ws, uploader: str, *, limit: int = 200) -> list[dict]:
    """One person's uploads, newest first, with what became of each (and why)."""
    ensure_schema(ws.db)
    rows = ws.db.execute("SELECT * FROM uploads WHERE uploader=? ORDER BY id DESC LIMIT ?",
                         (uploader, limit)).fetchall()
    out = []
    for u in rows:
        name = Path(u["source"]).name
        if name.lower().endswith(".txt"):  # a caption sidecar: never processed on its own, read with its photo
            photo = name[:-4]
            known = Path(photo).suffix.lower() in ALLOWED - {".txt"}
            out.append({"id": u["id"], "name": name, "original": u["original"], "uploaded_at": u["uploaded_at"],
                        "status": "caption", "status_words": "caption", "job_id": None,
                        "reason": (f"caption for {photo}" if known else f"caption for the photo or clip called {photo}")
                                  + ": it goes with it when it is processed"})
            continue
        job = ws.db.execute("SELECT id, state, status, reason FROM jobs WHERE source=? AND sha256=? "
                            "ORDER BY id DESC LIMIT 1", (u["source"], u["sha256"])).fetchone()
        if job is None or job["state"] != "done":
            status, reason = "waiting", "waiting to be processed"
            if job is not None:
                reason = "being processed now"
        else:
            status, reason = job["status"], shown_reason(job["status"], job["reason"])
        out.append({"id": u["id"], "name": Path(u["source"]).name, "original": u["original"],
                    "uploaded_at": u["uploaded_at"], "status": status,
                    "status_words": STATUS_WORDS.get(status, status), "reason": reason,
                    "job_id": None if job is None else job["id"]})
    return out


__all__ = ["save_upload", "uploads_of", "folder_name", "ALLOWED"]
