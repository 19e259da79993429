"""One watcher per workspace, and no overlap with the workers of a watcher that was killed.

``.watch.lock`` (exclusive, held by the watcher's main process) stops a second
``pipeline watch`` or a cron ``pipeline watch --once`` from draining the same
inbox at the same time. ``.watch-workers.lock`` is held *shared* by every
worker (see watch_folders/worker.py); a starting watcher takes it exclusively
once, which waits until the orphaned workers of a killed watcher have finished
the photos in their hands. Both are ``flock`` locks: the kernel drops them when
a process dies, however it dies.
"""
from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from pipeline.errors import UserError
from watch_folders.worker import WORKERS_LOCK

WATCH_LOCK = ".watch.lock"


class WatcherRunning(UserError):
    """Another watcher holds the workspace; ``pid`` is its process id as it wrote it."""

    def __init__(self, message: str, pid: str = "unknown"):
        super().__init__(message)
        self.pid = pid

    def running_sentence(self) -> str:
        return (f"the watcher (process {self.pid}) is already running on this workspace and "
                "processes the inbox itself.")


class WatchLock:
    def __init__(self, root: Path):
        self.path = Path(root) / WATCH_LOCK
        self.fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                other = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            finally:
                os.close(fd)
            raise WatcherRunning(
                f"another 'pipeline watch' (process {other}) is already working on this workspace. "
                "Let it do the work, or stop it first (systemctl stop, or kill that process).", other
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            try:
                os.ftruncate(self.fd, 0)
            except OSError:
                pass
            os.close(self.fd)
            self.fd = None


def wait_for_orphaned_workers(root: Path, *, timeout: float, on_wait=None) -> None:
    """Block until no worker of an earlier (killed) watcher is still finishing a photo."""
    fd = os.open(Path(root) / WORKERS_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
                return
            except BlockingIOError:
                if not told and on_wait is not None:
                    on_wait()
                    told = True
                if time.monotonic() > deadline:
                    raise UserError(
                        "workers of an earlier watcher are still running after "
                        f"{timeout:.0f} s. Find them with 'fuser {Path(root) / WORKERS_LOCK}', stop them, and start again."
                    ) from None
                time.sleep(0.1)
    finally:
        os.close(fd)
