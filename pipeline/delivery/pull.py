"""Hand released images of one channel to the comms lead's folder (``pipeline pull``).

What is handed: every *live* output of the channel whose job is ``released``,
with its caption sidecar, that this workspace has not handed before in that
exact version. An output re-rendered after a consent change (new content hash)
counts as a new image and is handed again; a retracted one is never handed.
``--again`` hands already-pulled images again; ``--since`` keeps outputs
created on or after a date.

Safety: each image is read from ``approved/``, its content hash checked
against the database (a file changed or damaged on disk is skipped, with the
reason), and written to the destination atomically (temporary name, fsync,
rename), so the comms lead never sees half a file. Every hand-over is recorded
in ``pulls`` (who, when, where, which version), which is what a later takedown
after a consent withdrawal relies on.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from pathlib import Path

from consent.database import now_iso, transaction
from pipeline.errors import UserError
from pipeline.delivery.gallery import record_pull
from processors.output import write_atomic

PRIVATE_FOLDERS = ("inbox", "approved", "originals", "quarantine", "review")


@dataclass
class PullResult:
    channel: str
    dest: Path
    pulled: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    already_pulled: int = 0

    def to_json(self) -> dict:
        return {"channel": self.channel, "to": str(self.dest), "pulled": self.pulled, "skipped": self.skipped,
                "already_pulled": self.already_pulled}


def parse_since(text: str | None) -> str | None:
    """``2026-09-01`` (local midnight) or an ISO date-time -> UTC ISO text comparable with ``created_at``."""
    if not text:
        return None
    try:
        if len(text.strip()) == 10:
            moment = datetime.combine(date.fromisoformat(text.strip()), time()).astimezone()
        else:
            moment = datetime.fromisoformat(text.strip())
            if moment.tzinfo is None:
                moment = moment.astimezone()
    except ValueError:
        raise UserError(f"--since {text!r} is not a date. Write it like 2026-09-01 (or 2026-09-01T14:30).") from None
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def _check_dest(ws, dest: Path) -> Path:
    dest = Path(dest).expanduser()
    if dest.exists() and not dest.is_dir():
        raise UserError(f"{dest} is a file, not a folder. Give the folder the images should be copied into.")
    resolved = dest.resolve()
    for name in PRIVATE_FOLDERS:
        private = (Path(ws.root) / name).resolve()
        if resolved == private or private in resolved.parents:
            raise UserError(f"{dest} is inside the workspace's {name}/ folder. Pull into a folder outside the workspace "
                            "(for example the comms team's shared folder).")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {dest} ({exc.strerror or exc}). Check the path and your permissions.") from None
    _check_writable(dest)
    return dest


def cannot_write(dest: Path, exc: OSError) -> UserError:
    """"cannot write to DIR: read-only file system" — one sentence, exit code 2."""
    why = (exc.strerror or str(exc)).rstrip(".")
    why = why[0].lower() + why[1:] if why else "unknown error"
    return UserError(f"cannot write to {dest}: {why}. Choose a folder you can write to, or fix its permissions.")


def _check_writable(dest: Path) -> None:
    """Refuse at once a folder nothing can be written to (read-only or immutable), before anything is recorded."""
    import tempfile

    try:
        fd, probe = tempfile.mkstemp(prefix=".pull-check-", dir=dest)
    except OSError as exc:
        raise cannot_write(dest, exc) from None
    os.close(fd)
    try:
        os.unlink(probe)
    except OSError:
        pass


def _caption_source(image: Path) -> Path | None:
    for candidate in (image.with_suffix(".txt"), image.with_name(image.name + ".txt")):
        if candidate.is_file() and not candidate.is_symlink():
            return candidate
    return None


def pull(ws, channel: str, dest: Path | str, *, since: str | None = None, again: bool = False,
         actor: str = "pipeline") -> PullResult:
    """Copy the channel's released images (and captions) into ``dest`` and record the hand-over."""
    if channel not in ws.config.channels:
        raise UserError(f"unknown channel '{channel}'. Channels in pipeline.toml: {', '.join(ws.config.channels)}.")
    since_iso = parse_since(since)
    dest = _check_dest(ws, Path(dest))
    result = PullResult(channel, dest)
    sql = ("SELECT o.id, o.job_id, o.path, o.caption, o.sha256, o.created_at,"
           " EXISTS (SELECT 1 FROM pulls p WHERE p.output_id=o.id AND p.output_sha256=o.sha256) AS pulled_before"
           " FROM outputs o JOIN jobs j ON j.id = o.job_id"
           " WHERE o.channel=? AND o.state='live' AND j.status='released'")
    args: list = [channel]
    if since_iso:
        sql += " AND o.created_at >= ?"
        args.append(since_iso)
    sql += " ORDER BY o.created_at, o.id"
    for row in ws.db.execute(sql, args).fetchall():
        if row["pulled_before"] and not again:
            result.already_pulled += 1
            continue
        try:
            item = _hand_over(ws, row, dest, result)
        except OSError as exc:  # the folder became read-only or full while pulling
            raise cannot_write(dest, exc) from None
        if item is None:
            continue
        item["pull_id"] = record_pull(ws.db, row["id"], row["sha256"], channel, str(Path(item["file"]).resolve()),
                                      actor)
        result.pulled.append(item)
    if result.pulled or result.skipped:
        detail = {"channel": channel, "dest": str(dest.resolve()), "pulled": [p["output_id"] for p in result.pulled],
                  "skipped": [s["output_id"] for s in result.skipped], "again": again, "since": since_iso}
        with transaction(ws.db) as conn:
            conn.execute("INSERT INTO events(at, actor, kind, detail) VALUES (?,?,?,?)",
                         (now_iso(), actor, "pull", json.dumps(detail, ensure_ascii=False)))
    return result


def _hand_over(ws, row, dest: Path, result: PullResult) -> dict | None:
    src = Path(ws.root) / row["path"]

    def skip(reason: str) -> None:
        result.skipped.append({"output_id": row["id"], "job_id": row["job_id"], "path": row["path"], "reason": reason})

    if src.is_symlink() or not src.is_file():
        skip("the released file is missing from approved/; run 'pipeline review list' or reprocess the photo")
        return None
    data = src.read_bytes()
    if hashlib.sha256(data).hexdigest() != row["sha256"]:
        skip("the released file on disk is not the one the pipeline wrote (changed or damaged); not handed over")
        return None
    target = dest / src.name
    caption_target = target.with_suffix(".txt")
    caption_src = _caption_source(src)
    caption = caption_src.read_bytes() if caption_src is not None else (
        (row["caption"] + "\n").encode("utf-8") if row["caption"] else None)
    if caption:
        write_atomic(caption_target, caption, mode=0o644)
    elif caption_target.exists():
        os.unlink(caption_target)  # belonged to an earlier version of this image
    write_atomic(target, data, mode=0o644)
    handed = {"output_id": row["id"], "job_id": row["job_id"], "file": str(target),
              "caption_file": str(caption_target) if caption else None, "sha256": row["sha256"],
              "released_at": row["created_at"]}
    if src.suffix == ".mp4":
        handed["poster_file"] = _hand_poster(src, target)
    return handed


def _hand_poster(src: Path, target: Path) -> str | None:
    """A clip's poster frame goes with it, once checked to be a pixels-only JPEG."""
    from processors.output import UnsafeOutput, check_pixels_only

    poster = src.with_suffix(".jpg")
    if poster.is_symlink() or not poster.is_file():
        return None
    data = poster.read_bytes()
    try:
        check_pixels_only(data)
    except UnsafeOutput:
        return None
    write_atomic(target.with_suffix(".jpg"), data, mode=0o644)
    return str(target.with_suffix(".jpg"))
