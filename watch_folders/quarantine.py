"""Quarantine inbox entries that must never be opened: FIFOs, sockets, devices.

Ordinary bad inputs (empty, truncated, not an image, a symbolic link, a file
we may not read) are rejected by ``pipeline.process.process_file`` without
being followed; these never reach it, because opening a FIFO blocks for ever
and opening a device reads it.

Crash safety, in this order:
1. ``quarantine/<tag>_<name>.reason.txt`` is written (temp + fsync + rename);
2. the entry itself is renamed to ``quarantine/<tag>_<name>`` (a link is moved
   as a link: its target is never opened), with its caption sidecars;
3. a finished ``rejected`` job row is recorded.
``finish_interrupted(ws)`` repairs a kill between any two steps: a reason file
without its entry is removed (the entry is still in the inbox and is redone), an
entry without a job row gets its row.
"""
from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path

from consent.database import now_iso, transaction
from watch_folders.names import relative, safe_component

REASON_SUFFIX = ".reason.txt"
_TAG = re.compile(r"^(w[0-9a-f]{10})_")
_ORIGINAL_LINE = "Original: "


def _write_atomic_text(path: Path, content: str) -> None:
    tmp = path.with_name(f".{path.name[:200]}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, content.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def reason_text(source: str, reason: str, advice: str) -> str:
    return (
        f"Rejected: {reason}\n"
        f"{_ORIGINAL_LINE}{source!r}\n"
        f"Quarantined at: {now_iso()}\n"
        f"What to do: {advice}\n"
    )


def quarantine_entry(ws, path: Path, *, reason: str, advice: str, actor: str,
                     captions: tuple[Path, ...] = ()) -> dict:
    """Move ``path`` (never read) into quarantine/ with a reason file and a rejected job row.

    Returns the JSON record of DESIGN.md for it. Raises OSError when the entry
    cannot be moved (e.g. the inbox folder is read-only); nothing is recorded then.
    """
    qdir = ws.root / "quarantine"
    source = relative(ws.root, path)
    tag = "w" + secrets.token_hex(5)
    name = safe_component(path.name, prefix=tag + "_", reserve=max(len(REASON_SUFFIX), len(".caption.txt")))
    dest = qdir / f"{tag}_{name}"
    reason_file = dest.with_name(dest.name + REASON_SUFFIX)
    _write_atomic_text(reason_file, reason_text(source, reason, advice))
    try:
        os.rename(path, dest)
    except OSError:
        reason_file.unlink(missing_ok=True)
        raise
    if not os.path.islink(dest):  # a FIFO or device node keeps its inbox mode otherwise: private, like the rest
        try:
            os.chmod(dest, 0o600)
        except OSError:
            pass
    for cap in captions:
        try:
            os.rename(cap, dest.with_name(dest.name + ".caption.txt"))
            break
        except OSError:
            continue
    _fsync_dir(qdir)
    _fsync_dir(path.parent)
    return _record(ws, source=source, reason=reason, dest=dest, actor=actor)


def _record(ws, *, source: str, reason: str, dest: Path, actor: str) -> dict:
    original = relative(ws.root, dest)
    record = {"source": source, "sha256": None, "status": "rejected", "reason": reason, "faces": [],
              "outputs": {}, "captions": {}, "metadata_found": []}
    now = now_iso()
    with transaction(ws.db) as conn:
        cur = conn.execute(
            "INSERT INTO jobs(source, sha256, state, status, reason, original_path, received_at, started_at,"
            " finished_at, actor, result_json) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (source, None, "done", "rejected", reason, original, now, now, now, actor, None),
        )
        record["job_id"] = cur.lastrowid
        conn.execute("UPDATE jobs SET result_json=? WHERE id=?", (json.dumps(record, ensure_ascii=False), cur.lastrowid))
        conn.execute("INSERT INTO events(at, actor, kind, detail) VALUES (?,?,?,?)",
                     (now, actor, "job.done", json.dumps({"job_id": cur.lastrowid, "status": "rejected", "reason": reason})))
    return record


def finish_interrupted(ws, *, actor: str) -> list[dict]:
    """Repair quarantines interrupted by a crash (see module docstring). Returns records it completed."""
    qdir = ws.root / "quarantine"
    done = []
    try:
        names = os.listdir(qdir)
    except OSError:
        return done
    for leftover in [n for n in names if n.startswith(".") and _TAG.match(n[1:]) and ".tmp-" in n]:
        (qdir / leftover).unlink(missing_ok=True)  # a reason file killed while being written
    for reason_name in [n for n in names if n.endswith(REASON_SUFFIX) and _TAG.match(n)]:
        entry = qdir / reason_name[: -len(REASON_SUFFIX)]
        reason_file = qdir / reason_name
        if not os.path.lexists(entry):
            reason_file.unlink(missing_ok=True)  # killed before the move: the entry is still in the inbox
            continue
        rel = relative(ws.root, entry)
        if ws.db.execute("SELECT 1 FROM jobs WHERE original_path=?", (rel,)).fetchone():
            continue
        source, reason = rel, "quarantined (interrupted before it was recorded)"
        try:
            for line in reason_file.read_text(encoding="utf-8").splitlines():
                if line.startswith("Rejected: "):
                    reason = line[len("Rejected: "):]
                elif line.startswith(_ORIGINAL_LINE):
                    source = _unrepr(line[len(_ORIGINAL_LINE):]) or source
        except OSError:
            pass
        done.append(_record(ws, source=source, reason=reason, dest=entry, actor=actor))
    return done


def _unrepr(text: str) -> str | None:
    import ast

    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None
