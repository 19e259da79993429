"""Code that runs inside the watcher's worker processes.

Each worker opens its own Workspace (its own SQLite connection) once, then
handles one inbox file per task: check it decodes, then
``pipeline.process.process_file(ws, path, move=True, source=…)``.

Workers ignore SIGINT (Ctrl-C reaches the whole process group: the watcher's
main process decides when to stop, and lets the photos in hand finish). On
SIGTERM (sent by the pool when another worker crashed, or by an administrator),
and on SIGUSR1, which the kernel sends when the main process dies, even by
kill -9 (``PR_SET_PDEATHSIG``), an idle worker exits at once and a busy one
finishes the photo in hand (so nothing is left half written) and exits without
taking another. While alive, each worker holds a
shared lock on ``.watch-workers.lock``; a new watcher waits for that lock, so it
never redoes a photo an orphaned worker is still finishing.
"""
from __future__ import annotations

import fcntl
import os
import signal
import sys
import traceback
from pathlib import Path

WORKERS_LOCK = ".watch-workers.lock"

_ws = None
_ctx = None
_parent_pid: int | None = None
_busy = False
_stop_after_task = False
_lock_fd: int | None = None


def _on_stop(signum, frame):  # pragma: no cover - exercised by the kill -9 tests in a subprocess
    global _stop_after_task
    _stop_after_task = True
    if not _busy:
        os._exit(0)


def _die_with_parent() -> None:
    """Ask Linux to signal us when the watcher's main process dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGUSR1), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def init_worker(root: str, parent_pid: int) -> None:
    """ProcessPoolExecutor initializer: signals, parent watch, shared lock, own Workspace."""
    global _ws, _ctx, _parent_pid, _lock_fd
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_stop)
    signal.signal(signal.SIGUSR1, _on_stop)
    _parent_pid = parent_pid
    _die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before we could ask to be told
        os._exit(0)
    _lock_fd = os.open(Path(root) / WORKERS_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(_lock_fd, fcntl.LOCK_SH)
    from pipeline.workspace import open_workspace

    _ws = open_workspace(root)
    try:
        import pipeline.process  # noqa: F401  - load the processing code once per worker, not per photo
        from pipeline.context import RunContext

        _ctx = RunContext(_ws)  # register and reference encodings, reloaded only when they change
    except ImportError:
        pass


def _parent_alive() -> bool:
    return not _stop_after_task and (_parent_pid is None or os.getppid() == _parent_pid)


def handle(path: str, source: str, check_decode: bool) -> dict:
    """Process one inbox file. Returns {"kind": done|deferred|vanished|error|abandoned, …}."""
    global _busy
    _busy = True
    try:
        if not _parent_alive():
            return {"kind": "abandoned"}
        p = Path(path)
        try:
            before = os.lstat(p)
        except FileNotFoundError:
            return {"kind": "vanished"}
        if check_decode:
            from watch_folders.stability import decode_problem

            limits = _ws.config["limits"] if _ws is not None else None
            problem = decode_problem(
                p, max_bytes=int(limits["max_file_mb"] * 1024 * 1024) if limits else None,
                max_pixels=int(limits["max_megapixels"] * 1_000_000) if limits else None)
            try:
                after = os.lstat(p)
            except FileNotFoundError:
                return {"kind": "vanished"}
            if (after.st_size, after.st_mtime_ns, after.st_ino) != (before.st_size, before.st_mtime_ns, before.st_ino):
                return {"kind": "deferred", "why": "still changing", "changed": True}
            if problem is not None:
                return {"kind": "deferred", "why": problem, "changed": False}
        from pipeline.process import process_file

        try:
            record = process_file(_ws, p, move=True, source=source, ctx=_ctx)
        except FileNotFoundError:
            if not os.path.lexists(p):
                return {"kind": "vanished"}
            raise
        return {"kind": "done", "record": record}
    except Exception as exc:  # reported by the main process; the watcher keeps running
        return {"kind": "error", "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
    finally:
        _busy = False
        if not _parent_alive():
            os._exit(0)


def recover_jobs() -> dict:
    """Finish jobs a crash left half done (pipeline.process.recover), in a worker so a crash here cannot take the watcher down."""
    global _busy
    _busy = True
    try:
        from pipeline.process import recover

        return {"kind": "recovered", "records": recover(_ws, _ctx)}
    except Exception as exc:
        return {"kind": "error", "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
    finally:
        _busy = False
        if not _parent_alive():
            os._exit(0)


def expire_due(actor: str) -> dict:
    """The daily consent-expiry check of released images (pipeline.consent_changes.propagate.expire_if_due)."""
    global _busy
    _busy = True
    try:
        from pipeline.consent_changes.propagate import expire_if_due

        report = expire_if_due(_ws, actor=actor)
        return {"kind": "expired", "lines": report.lines() if report is not None and report.changes else [],
                "ran": report is not None}
    except Exception as exc:
        return {"kind": "error", "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
    finally:
        _busy = False
        if not _parent_alive():
            os._exit(0)


def ping() -> int:
    """Used to start the workers (and load the face models) before work arrives."""
    return os.getpid()
