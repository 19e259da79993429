"""`pipeline recover`: finish what a crash left in flight, without draining the inbox.

The same recovery the watcher runs when it starts: wait for the workers of a killed watcher,
remove temporary files of interrupted writes, complete interrupted quarantines, then finish every
job left in ``received`` or ``processing`` from its kept original (``pipeline.process.recover``).
It takes the watcher's lock, so it never races a running watcher: when one is running, it does
this itself and ``recover`` says so.
"""
from __future__ import annotations

from watch_folders.leftovers import remove_stale_temp_files
from watch_folders.locks import WatchLock, wait_for_orphaned_workers
from watch_folders.quarantine import finish_interrupted

ORPHAN_WAIT_SECONDS = 600


def recover_workspace(ws, *, actor: str) -> list[dict]:
    """Finish every interrupted job of ``ws``; the records of the jobs finished. Raises WatcherRunning."""
    from pipeline.process import recover

    lock = WatchLock(ws.root)
    lock.acquire()
    try:
        wait_for_orphaned_workers(ws.root, timeout=ORPHAN_WAIT_SECONDS)
        remove_stale_temp_files(ws.root)
        records = list(finish_interrupted(ws, actor=actor))
        records += recover(ws)
        return records
    finally:
        lock.release()
