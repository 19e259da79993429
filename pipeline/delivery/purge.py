"""Remove kept originals (and quarantined inputs) after ``[originals] retention_days``.

What is purged: the files of finished jobs whose ``finished_at`` is more than
``retention_days`` ago — the original in ``originals/`` with its caption
sidecar, or the rejected input in ``quarantine/`` with its reason file.
What is kept: originals of photos still held for review (status ``review``: a
reviewer's decision needs the original to render from), and anything of a job
not finished. Released images in ``approved/`` are never touched. Once an
original is purged, a later consent withdrawal can still retract the released
image, but no longer re-render it with a blur. Each purged job is recorded in
the ``events`` table (kind ``originals.purge``).
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from consent.database import now_iso, transaction
from pipeline.errors import UserError

KEEP_STATUSES = ("review",)
_SIDECAR_SUFFIXES = (".reason.txt", ".caption.txt")


def _parse(ts: str | None) -> datetime | None:
    if not ts:
        return None
    try:
        value = datetime.fromisoformat(ts)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class _Listing:
    """Each folder listed once per purge, so a purge stays linear in the number of jobs."""

    def __init__(self):
        self._names: dict[Path, dict[str, list[str]]] = {}

    def by_prefix(self, folder: Path) -> dict[str, list[str]]:
        if folder not in self._names:
            index: dict[str, list[str]] = {}
            try:
                names = os.listdir(folder)
            except OSError:
                names = []
            for n in names:
                head, sep, _ = n.partition("_")
                if sep:
                    index.setdefault(head, []).append(n)
            self._names[folder] = index
        return self._names[folder]


def _job_files(root: Path, job_id: int, original_path: str, listing: _Listing) -> list[Path]:
    original = root / original_path
    folder = original.parent
    files = {original}
    files.update(original.with_name(original.name + s) for s in _SIDECAR_SUFFIXES)
    files.update(folder / n for n in listing.by_prefix(folder).get(str(job_id), []))
    return sorted(p for p in files if os.path.lexists(p))


def purge_originals(ws, *, now: datetime | None = None, dry_run: bool = False, actor: str = "pipeline") -> dict:
    """Delete originals older than the retention period. Returns {"retention_days", "cutoff", "purged": [...], "errors": [...]}."""
    days = ws.config["originals"]["retention_days"]
    if days < 0:
        raise UserError("[originals] retention_days must be 0 or more (days to keep originals). Fix it in pipeline.toml.")
    now = now or datetime.now(timezone.utc)
    cutoff = now - timedelta(days=days)
    root = Path(ws.root)
    allowed = {(root / "originals").resolve(), (root / "quarantine").resolve()}
    rows = ws.db.execute(
        "SELECT id, status, original_path, finished_at FROM jobs"
        " WHERE state='done' AND original_path IS NOT NULL AND original_path != ''"
        f" AND (status IS NULL OR status NOT IN ({','.join('?' * len(KEEP_STATUSES))}))",
        KEEP_STATUSES,
    ).fetchall()
    purged, errors = [], []
    listing = _Listing()
    for row in rows:
        finished = _parse(row["finished_at"])
        if finished is None or finished > cutoff:
            continue
        files = [p for p in _job_files(root, row["id"], row["original_path"], listing) if p.parent.resolve() in allowed]
        if not files:
            continue
        rel = [os.path.relpath(p, root) for p in files]
        if dry_run:
            purged.append({"job_id": row["id"], "files": rel, "finished_at": row["finished_at"]})
            continue
        removed = []
        for path, name in zip(files, rel):
            try:
                os.unlink(path)
                removed.append(name)
            except FileNotFoundError:
                continue
            except OSError as exc:
                errors.append({"job_id": row["id"], "file": name, "error": exc.strerror or str(exc)})
        if removed:
            detail = {"job_id": row["id"], "files": removed, "finished_at": row["finished_at"], "retention_days": days}
            with transaction(ws.db) as conn:
                conn.execute("INSERT INTO events(at, actor, kind, detail) VALUES (?,?,?,?)",
                             (now_iso(), actor, "originals.purge", json.dumps(detail, ensure_ascii=False)))
            purged.append({"job_id": row["id"], "files": removed, "finished_at": row["finished_at"]})
    return {"retention_days": days, "cutoff": cutoff.isoformat(timespec="seconds"), "dry_run": dry_run,
            "purged": purged, "errors": errors}
