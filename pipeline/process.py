"""The per-image flow (DESIGN.md "Processing one image") and its crash-safe record.

    receive  -> job row (received) with the content hash
    keep     -> the original is moved/copied into originals/ (processing)
    analyse  -> decode, read metadata, find faces, encode, match, decide   (pipeline.analyse)
    render   -> released channels / review preview, written atomically     (pipeline.render)
    record   -> faces, outputs, status in one transaction (done); rejected inputs go to quarantine/

A crash at any point leaves a job in 'received' or 'processing' that ``recover`` finishes
from the kept original; outputs have deterministic names, so redoing a job rewrites them.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from consent.database import transaction
from pipeline import jobs
from pipeline.analyse import Analysis, analyse
from pipeline.actor import actor_name
from pipeline.captions import channel_captions, read_sidecar_checked
from pipeline.context import RunContext
from pipeline.render import render_channels, render_preview, write_channels, write_preview
from processors.gate import NAME_MAX, Refused, display
from processors.gate import read_input as gate_read
from processors.output import write_atomic
from processors.video.probe import is_clip


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def display_source(ws, path: Path) -> str:
    """The input's path relative to the workspace when inside it, else as given, in its display form
    (a name that is not UTF-8 keeps its bytes visible as ``\\xe9``; control characters escaped)."""
    try:
        rel = str(Path(os.path.abspath(path)).relative_to(os.path.abspath(ws.root)))
    except ValueError:
        rel = str(path)
    return display(rel)


def process_file(ws, path: Path | str, *, caption: str | None = None, move: bool = False,
                 source: str | None = None, ctx: RunContext | None = None, progress=None) -> dict:
    """Process one input end to end and return its JSON record (DESIGN.md), plus ``job_id``.

    ``move=True`` (inbox mode) moves the input out of the inbox; otherwise it is copied.
    Never raises for a bad input: it is recorded as ``rejected`` and quarantined.
    """
    ctx = (ctx or RunContext(ws)).refresh()
    got = receive(ws, path, caption=caption, move=move, source=source)
    if isinstance(got, dict):
        return got
    if is_clip(got.data):
        return process_clip(ws, ctx, got, progress=progress)
    result = analyse(got.data, name=got.name, ctx=ctx)
    return complete(ws, ctx, got, result)


@dataclass
class Received:
    """An input taken in (job row, original kept) and waiting for analysis."""

    job_id: int
    source: str
    sha: str
    data: bytes
    name: str
    original: Path
    caption: str | None
    caption_problem: str | None = None   # why the sidecar was refused (the photo is then held for review)


def read_input(ws, path: Path | str, root: Path | str | None = None) -> bytes | None:
    """The input's bytes, or None when it cannot be read (``receive`` then records why)."""
    try:
        return _read_input(Path(path), ws.config["limits"]["max_file_mb"], root)
    except _Unreadable:
        return None


def receive(ws, path: Path | str, *, caption: str | None = None, move: bool = False,
            source: str | None = None, data: bytes | None = None,
            root: Path | str | None = None) -> "Received | dict":
    """Everything before analysis: read (unless ``data`` is given), hash, job row, keep the original.

    Returns the final record (a dict) when there is nothing to analyse — an unreadable input, or
    the same content as a finished job — else a :class:`Received` for ``complete``.
    """
    path = Path(path)
    source = source or display_source(ws, path)
    sidecar_text, sidecar_path, sidecar_problem = read_sidecar_checked(path)
    caption_problem = None
    if caption is None:
        caption, caption_problem = sidecar_text, sidecar_problem

    if data is None:
        try:
            data = _read_input(path, ws.config["limits"]["max_file_mb"], root)
        except _Unreadable as exc:
            return _reject_unreadable(ws, path, source, exc, move)

    sha = sha256_bytes(data)
    actor = actor_name()
    with transaction(ws.db):
        earlier = jobs.by_sha(ws.db, sha)
        resumable = [j for j in earlier if j["state"] != "done" and j["source"] == source]
        finished = [j for j in earlier if j["state"] == "done"]
        job_id = resumable[0]["id"] if resumable else jobs.create(ws.db, source, sha, actor)

    original = _keep_original(ws, path, data, job_id, sha, move)
    if sidecar_path is not None and move:
        _move_quietly(sidecar_path, ws.root / "originals" / f"{job_id}_{sha[:12]}.caption.txt")
    jobs.mark_processing(ws.db, job_id, ws.rel(original))

    if finished and not resumable:
        return _record_duplicate(ws, job_id, finished[0], original, caption)
    return Received(job_id, source, sha, data, display(path.name), original, caption, caption_problem)


def _run(ws, ctx, job_id, source, sha, data, name, original: Path, caption, progress=None) -> dict:
    got = Received(job_id, source, sha, data, name, original, caption)
    if is_clip(data):
        return process_clip(ws, ctx, got, progress=progress)
    result = analyse(data, name=name, ctx=ctx)
    return complete(ws, ctx, got, result)


def process_clip(ws, ctx, got: Received, progress=None) -> dict:
    """A video clip, in this process: analyse it frame by frame from the kept original, then render
    and record it (``progress(phase, frames_done, frames_total)`` is told as frames go by)."""
    from pipeline.video.analyse import analyse_clip

    def told(phase):
        return None if progress is None else (lambda done, total: progress(phase, done, total))

    result = analyse_clip(got.original, ctx=ctx, progress=told("checking"))
    return complete(ws, ctx, got, result, progress=told("rendering"))


def complete(ws, ctx, got: Received, result: Analysis, rendered: dict | None = None, progress=None) -> dict:
    """Render (unless a worker already did: ``rendered`` holds ``channels`` → JPEG bytes, or
    ``preview`` bytes), write the outputs atomically and record the job as done."""
    job_id, original, caption, name = got.job_id, got.original, got.caption, got.name
    if getattr(result, "kind", "photo") == "video":
        return _complete_clip(ws, ctx, got, result, progress)
    if got.caption_problem and result.status == "released":
        # a refused caption sidecar: the photo waits for a person (who sees a redacted preview)
        if rendered is not None and result.image is None:
            result, rendered = analyse(got.data, name=got.name, ctx=ctx), None   # the worker kept the pixels
        if result.status == "released":
            result = dataclasses.replace(result, status="review",
                                         reason=f"{result.reason}; held for review because {got.caption_problem}")
    record = {"source": got.source, "sha256": got.sha, "job_id": job_id}
    record.update(result.public())
    record["_actor"] = actor_name()
    kept_at = original
    if result.status == "rejected":
        kept_at = _quarantine(ws, original, name, job_id, result.reason)
    elif result.status == "released":
        captions = channel_captions(caption, result, ctx, ws.config)
        stem = f"{_job_date(ws, job_id)}_{got.sha[:12]}"
        if rendered is None:
            outputs, shas = render_channels(ws, result.image, result.faces_on_image(), ctx.channels, stem, captions,
                                             texts=result.texts_on_image())
        else:
            outputs, shas = write_channels(ws, rendered["channels"], stem, captions)
        record["outputs"], record["captions"], record["_output_sha"] = outputs, captions, shas
    elif result.status == "review":
        if rendered is None:
            record["preview"] = render_preview(ws, result.image, result.faces_on_image(), job_id,
                                               texts=result.texts_on_image())
        else:
            record["preview"] = write_preview(ws, rendered["preview"], job_id)
    jobs.finish(ws.db, job_id, record, faces=result.faces, caption=caption, original_path=ws.rel(kept_at),
                size=result.size, taken_date=result.taken_date)
    return {k: v for k, v in record.items() if not k.startswith("_")}


def _complete_clip(ws, ctx, got: Received, result, progress) -> dict:
    """``complete`` for a video clip: the released channels are rendered from the kept original."""
    from pipeline.video.render import render_clip, render_review

    job_id, original, caption = got.job_id, got.original, got.caption
    if got.caption_problem and result.status == "released":
        # a refused caption sidecar: the clip waits for a person, as a photo does
        result.status, result.reason = "review", f"{result.reason}; held for review because {got.caption_problem}"
    record = {"source": got.source, "sha256": got.sha, "job_id": job_id}
    record.update(result.public())
    record["_actor"] = actor_name()
    kept_at = original
    if result.status == "released":
        captions = channel_captions(caption, result, ctx, ws.config)
        stem = f"{_job_date(ws, job_id)}_{got.sha[:12]}"
        try:
            outputs, shas = render_clip(ws, original, result, ctx.channels, stem, captions, progress=progress)
        except Exception as exc:  # fail safe: a clip that could not be rendered is not released
            import logging

            logging.getLogger(__name__).exception("rendering failed for %s", got.source)
            detail = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
            result.status, result.reason = "rejected", (f"Rejected: the clip could not be rendered ({detail}); "
                                                        "it was kept in quarantine — please report this.")
            record.update(status=result.status, reason=result.reason)
        else:
            record["outputs"], record["captions"], record["_output_sha"] = outputs, captions, shas
            record["posters"] = {ch: str(Path(p).with_suffix(".jpg")) for ch, p in outputs.items()}
    elif result.status == "review":
        record["preview"] = render_review(ws, result, job_id)
    if result.status == "rejected":
        kept_at = _quarantine(ws, original, got.name, job_id, result.reason)
    jobs.finish(ws.db, job_id, record, faces=result.faces, caption=caption, original_path=ws.rel(kept_at),
                size=result.size, taken_date=result.taken_date, tracks=record.get("tracks"))
    return {k: v for k, v in record.items() if not k.startswith("_")}


def _job_date(ws, job_id: int) -> str:
    return jobs.get(ws.db, job_id)["received_at"][:10]


def _record_duplicate(ws, job_id: int, first, original: Path, caption) -> dict:
    """Same content as an earlier input: recorded, not processed twice."""
    first_record = json.loads(first["result_json"] or "{}")
    reason = f"duplicate of {first['source']} (job {first['id']}, {first['status']})"
    record = {**first_record, "source": jobs.get(ws.db, job_id)["source"], "job_id": job_id,
              "status": first["status"], "reason": reason, "duplicate_of": first["id"], "outputs": {}, "captions": {}}
    kept_at = original
    if first["status"] == "rejected":
        kept_at = _quarantine(ws, original, Path(record["source"]).name, job_id, reason)
    jobs.finish(ws.db, job_id, record, faces=[], caption=caption, original_path=ws.rel(kept_at),
                size=None, taken_date=None)
    return record


# --- where inputs go -------------------------------------------------------------------------

class _Unreadable(Exception):
    pass


def _read_input(path: Path, max_mb: float, root: Path | str | None = None) -> bytes:
    """The input's bytes through the gate (``processors.gate``): a regular file, no link on its path
    inside ``root`` (the folder the user named; by default the file's own folder), within the limit."""
    try:
        return gate_read(path, root=root if root is not None else os.path.dirname(os.path.abspath(path)),
                         max_bytes=int(max_mb * 1024 * 1024))
    except Refused as exc:
        raise _Unreadable(exc.why) from None
    except MemoryError:
        raise _Unreadable("it is too large to read into memory") from None


def _reject_unreadable(ws, path: Path, source: str, exc: _Unreadable, move: bool) -> dict:
    reason = f"Rejected: {exc}."
    job_id = jobs.create(ws.db, source, None, actor_name())
    kept = None
    if move and os.path.lexists(path):
        dest = _quarantine_name(ws, display(path.name), job_id)
        try:
            _move_private(path, dest)
            kept = dest
            _private(dest)
            write_atomic(dest.with_name(dest.name + ".reason.txt"), (reason + "\n").encode(), mode=0o600)
        except OSError:
            kept = None
    record = {"source": source, "sha256": None, "job_id": job_id, "status": "rejected", "reason": reason,
              "faces": [], "outputs": {}, "captions": {}, "metadata_found": []}
    jobs.finish(ws.db, job_id, record, faces=[], caption=None,
                original_path=ws.rel(kept) if kept else None, size=None, taken_date=None)
    return record


def _keep_original(ws, path: Path, data: bytes, job_id: int, sha: str, move: bool) -> Path:
    """Keep the untouched original as a private copy in originals/: always a new file written from the
    very bytes that were hashed (``data``), never a rename or hard link of the input, so it never
    shares an inode with a file outside the workspace, and the input's mode is never changed.
    In inbox mode (``move``) the inbox entry is then removed (only the entry: a file it was
    hard-linked to elsewhere keeps its content and mode)."""
    ext = _safe_ext(path.name)
    dest = ws.root / "originals" / f"{job_id}_{sha[:12]}{ext}"
    if not dest.exists() or dest.is_symlink() or dest.stat().st_nlink > 1:
        write_atomic(dest, data, mode=0o600)
    if move:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
    return dest


def _quarantine(ws, original: Path, name: str, job_id: int, reason: str) -> Path:
    dest = _quarantine_name(ws, name, job_id)
    write_atomic(dest.with_name(dest.name + ".reason.txt"), (reason + "\n").encode("utf-8"), mode=0o600)
    if original.exists():
        os.replace(original, dest)
        _private(dest)
    return dest


def _quarantine_name(ws, name: str, job_id: int) -> Path:
    return ws.root / "quarantine" / f"{job_id}_{safe_name(name)}"


def safe_name(name: str, limit: int = 80) -> str:
    """A filename safe to show and store: no path parts, control characters or odd spacing; at most
    ``limit`` characters and short enough in bytes that a job prefix and ``.reason.txt`` still fit."""
    name = unicodedata.normalize("NFC", display(name))
    name = re.sub(r"[\x00-\x1f\x7f/\\]+", "_", name).strip(" .") or "file"
    if len(name) > limit or len(name.encode()) > NAME_MAX - 64:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:10] if dot and len(ext) <= 10 else ""
        keep = min(limit - len(ext) - 1, len(name))
        while len(name[:keep].encode()) + len(ext.encode()) + 1 > NAME_MAX - 64:
            keep -= 1
        name = name[:keep] + ("." + ext if ext else "")
    return name


def _private(path: Path) -> None:
    """0600 for anything kept privately (a quarantined pipe too); a link itself has no mode to set."""
    try:
        if not os.path.islink(path):
            os.chmod(path, 0o600)
    except OSError:
        pass


def _safe_ext(name: str) -> str:
    ext = Path(name).suffix.lower()
    return ext if re.fullmatch(r"\.[a-z0-9]{1,5}", ext) else ""


def _move_quietly(src: Path, dest: Path) -> None:
    try:
        _move_private(src, dest)
    except OSError:
        pass


def _move_private(src: Path, dest: Path) -> None:
    """Move an inbox entry into the workspace's private folders without ever sharing its inode with
    a file outside: a regular file with other hard links is copied (then the inbox entry removed),
    anything else (a symbolic link is moved as the link itself, never followed) is renamed."""
    st = os.lstat(src)
    if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
        try:
            with open(src, "rb") as fh:
                data = fh.read()
        except OSError:
            src.unlink()  # only this link goes: the file it shares its content with stays where it is
            raise
        write_atomic(dest, data, mode=0o600)
        src.unlink()
        return
    try:
        os.rename(src, dest)
    except OSError:  # another filesystem
        if not stat.S_ISREG(st.st_mode):
            raise
        shutil.copyfile(src, dest, follow_symlinks=False)
        src.unlink()
    if stat.S_ISREG(st.st_mode):
        os.chmod(dest, 0o600)  # our own file now (its only link)


# --- recovery ------------------------------------------------------------------------------

def recover(ws, ctx: RunContext | None = None) -> list[dict]:
    """Finish every job a crash left in 'received' or 'processing'."""
    ctx = ctx or RunContext(ws)
    results = []
    for job in jobs.unfinished(ws.db):
        source_path = ws.root / job["source"]
        original = ws.root / job["original_path"] if job["original_path"] else None
        quarantined = sorted((ws.root / "quarantine").glob(f"{job['id']}_*"))
        quarantined = [q for q in quarantined if not q.name.endswith(".reason.txt")]
        if original is not None and original.exists() and job["sha256"] and (
                sha256_bytes(original.read_bytes()) != job["sha256"]):
            # the kept copy is not what was received: never process (or release) changed bytes
            reason = ("Rejected: the kept original changed before it could be processed (its SHA-256 differs "
                      "from the photo received); drop the original photo into the inbox again.")
            record = {"source": job["source"], "sha256": job["sha256"], "job_id": job["id"], "status": "rejected",
                      "reason": reason, "faces": [], "outputs": {}, "captions": {}, "metadata_found": []}
            kept = _quarantine(ws, original, Path(job["source"]).name, job["id"], reason)
            jobs.finish(ws.db, job["id"], record, faces=[], caption=None, original_path=ws.rel(kept), size=None,
                        taken_date=None)
            results.append(record)
        elif original is not None and original.exists():
            data = original.read_bytes()
            caption_file = original.with_name(original.stem + ".caption.txt")
            caption = caption_file.read_text("utf-8", "replace").strip() if caption_file.exists() else None
            results.append(_run(ws, ctx.refresh(), job["id"], job["source"], job["sha256"], data,
                                Path(job["source"]).name, original, caption))
        elif quarantined:
            reason_file = quarantined[0].with_name(quarantined[0].name + ".reason.txt")
            reason = reason_file.read_text("utf-8").strip() if reason_file.exists() else "Rejected."
            record = {"source": job["source"], "sha256": job["sha256"], "job_id": job["id"], "status": "rejected",
                      "reason": reason, "faces": [], "outputs": {}, "captions": {}, "metadata_found": []}
            jobs.finish(ws.db, job["id"], record, faces=[], caption=None,
                        original_path=ws.rel(quarantined[0]), size=None, taken_date=None)
            results.append(record)
        elif source_path.exists() and not source_path.is_symlink():
            results.append(process_file(ws, source_path, move=True, source=job["source"], ctx=ctx))
        else:
            record = {"source": job["source"], "sha256": job["sha256"], "job_id": job["id"], "status": "rejected",
                      "reason": "Rejected: the file disappeared while it was being processed.",
                      "faces": [], "outputs": {}, "captions": {}, "metadata_found": []}
            jobs.finish(ws.db, job["id"], record, faces=[], caption=None, original_path=None, size=None,
                        taken_date=None)
            results.append(record)
    return results
