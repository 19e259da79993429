"""``pipeline watch``: drain the inbox, once or for ever.

The main process lists the inbox (watch_folders/inbox.py), waits for each file
to be complete (watch_folders/stability.py) and hands it to a bounded pool of
worker processes (watch_folders/worker.py) that run
``pipeline.process.process_file``. At most ``2 × workers`` files are handed out
at a time, so a burst of 500 files never holds more than that in memory.

File-system events (watchdog: inotify where the OS has it, or polling for
SMB/NFS shares, per ``[watch] mode``) only wake the loop up; what to do is
always decided from a fresh listing, so a missed or duplicated event can never
make a file be skipped or processed twice. Exactly-once comes from the job rows
in the database (``pipeline.process``) and ``recover()`` at every start.
"""
from __future__ import annotations

import concurrent.futures as cf
import json
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import Counter
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from watch_folders import inbox as inbox_mod
from watch_folders import worker
from watch_folders.leftovers import candidate_temp_files, remove_stale_temp_files
from watch_folders.locks import WatchLock, wait_for_orphaned_workers
from watch_folders.names import for_log, relative
from watch_folders.quarantine import finish_interrupted, quarantine_entry
from watch_folders.stability import StabilityTracker

log = logging.getLogger("pipeline.watch")

IDLE_RESCAN_SECONDS = 60.0      # full listing even without events (lost inotify events, overflow)
PURGE_EVERY_SECONDS = 24 * 3600
MAX_FAILURES = 2                # unexpected errors on one file before it is set aside for this run
MAX_POOL_RESTARTS_WITH_RECOVER = 2
ORPHAN_WAIT_SECONDS = 600.0

# Entries the main process quarantines itself: opening them could block (a FIFO) or read a device.
# Symbolic links and unreadable files go to process_file, which rejects them without reading them.
QUARANTINE_REASONS = {
    inbox_mod.SPECIAL: (
        "not a regular file (a pipe, socket or device); it was not read",
        "drop photo files only",
    ),
}
NEVER_DECODE = (inbox_mod.LINK, inbox_mod.UNREADABLE)  # never opened by the watcher


@dataclass
class Summary:
    statuses: Counter = field(default_factory=Counter)   # released/review/blocked/rejected
    duplicates: int = 0
    vanished: int = 0
    failed: list[str] = field(default_factory=list)      # files left in the inbox after errors
    stuck: list[str] = field(default_factory=list)       # could not be moved / folders not listable
    recovered: int = 0
    purged: int = 0

    @property
    def exit_code(self) -> int:
        return 1 if (self.statuses["rejected"] or self.failed or self.stuck) else 0

    def line(self) -> str:
        parts = [f"{self.statuses[s]} {s}" for s in ("released", "review", "blocked", "rejected")]
        text = "Inbox drained: " + ", ".join(parts)
        if self.duplicates:
            text += f" ({self.duplicates} of them duplicates of earlier photos)"
        if self.recovered:
            text += f"; {self.recovered} interrupted job(s) finished"
        if self.failed:
            text += f"; {len(self.failed)} file(s) failed and stay in the inbox (see the messages above)"
        if self.stuck:
            text += f"; {len(self.stuck)} item(s) could not be handled (see the messages above)"
        return text + "."


def _pool_size(ws) -> int:
    n = int(ws.config["watch"]["workers"])
    return max(1, n if n > 0 else (os.cpu_count() or 1))


def describe(record: dict) -> str:
    """The "what happened and why" half of a log line."""
    status = record.get("status")
    reason = record.get("reason") or ""
    if reason.startswith("duplicate"):
        return f"not processed again: {reason}"
    if status == "released":
        n = len(record.get("outputs") or {})
        return f"{n} channel{'s' if n != 1 else ''} ({reason})" if reason else f"{n} channels"
    if status == "review":
        return f"held for review ({reason})"
    if status == "blocked":
        return f"not released ({reason})"
    return f"quarantine ({reason})"


class Watcher:
    def __init__(self, ws, *, once: bool = False, actor: str = "watcher", on_record=None):
        self.ws = ws
        self.root = Path(ws.root)
        self.inbox = self.root / "inbox"
        self.once = once
        self.actor = actor
        self.on_record = on_record
        cfg = ws.config["watch"]
        self.mode = cfg["mode"]
        self.poll_interval = max(0.1, float(cfg["poll_interval"]))
        self.tracker = StabilityTracker(float(cfg["stable_seconds"]))
        self.tick = max(0.05, min(0.5, self.tracker.stable_seconds / 4 or 0.05))
        self.workers = _pool_size(ws)
        self.max_in_flight = 2 * self.workers
        self.summary = Summary()
        self._stopping = False
        self._signals = 0
        self._wake = threading.Event()
        self._pool: cf.ProcessPoolExecutor | None = None
        self._pool_restarts = 0
        self._in_flight: dict[cf.Future, inbox_mod.Entry] = {}
        self._pool_of: dict[cf.Future, cf.ProcessPoolExecutor] = {}
        self._failures: Counter = Counter()
        self._set_aside: dict[Path, tuple] = {}
        self._told: set[tuple] = set()
        self._observer = None
        self._last_purge = 0.0
        self._last_expiry = 0.0
        self._expiry: cf.Future | None = None
        self._recovered: set[str] = set()

    # ---- lifecycle ---------------------------------------------------------------------------
    def run(self) -> Summary:
        lock = WatchLock(self.root)
        lock.acquire()
        self.inbox.mkdir(exist_ok=True)
        old_handlers = self._install_signals()
        try:
            wait_for_orphaned_workers(
                self.root, timeout=ORPHAN_WAIT_SECONDS,
                on_wait=lambda: log.info("waiting for the workers of a stopped watcher to finish the photos in hand…"),
            )
            self._remove_leftovers()
            for rec in finish_interrupted(self.ws, actor=self.actor):
                self._report(rec, source=rec["source"])
            self._start_pool()
            self._recover()
            self._maybe_purge()
            self._maybe_expire()
            if not self.once:
                self._start_observer()
                log.info("watching %s (%s mode, %d worker%s); stop with Ctrl-C or SIGTERM",
                         self.inbox, self._observer_kind, self.workers, "s" if self.workers != 1 else "")
            self._loop()
        finally:
            self._shutdown()
            if self.once:  # a writer killed just before we started is certainly gone by now
                self._remove_leftovers()
            self._restore_signals(old_handlers)
            lock.release()
        return self.summary

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def _install_signals(self):
        if threading.current_thread() is not threading.main_thread():
            return None
        old = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            old[sig] = signal.signal(sig, self._on_signal)
        return old

    def _restore_signals(self, old) -> None:
        for sig, handler in (old or {}).items():
            signal.signal(sig, handler)

    def _on_signal(self, signum, frame):
        self._signals += 1
        if self._signals == 1:
            busy = len(self._in_flight)
            log.info("stopping: no new files will be taken; finishing %d file(s) in hand (signal again to stop at once)", busy)
            self.stop()
        else:
            log.warning("stopping at once; photos in hand are finished by the workers or redone at the next start")
            logging.shutdown()
            os._exit(130)

    def _start_pool(self) -> None:
        self._pool = cf.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=worker.init_worker,
            initargs=(str(self.root), os.getpid()),
        )

    def _restart_pool(self) -> None:
        self._pool_restarts += 1
        try:
            self._pool.shutdown(wait=False, cancel_futures=True)
        except Exception:
            pass
        # the broken pool's other workers finish the photo in hand, then exit: wait for them, so that
        # finishing interrupted jobs below never redoes a photo one of them is still processing
        try:
            wait_for_orphaned_workers(self.root, timeout=ORPHAN_WAIT_SECONDS)
        except Exception as exc:
            log.error("%s", exc)
        self._remove_leftovers_of_a_crash()
        self._start_pool()
        log.warning("workers restarted")
        if self._pool_restarts <= MAX_POOL_RESTARTS_WITH_RECOVER:
            self._recover()
        else:
            log.warning("interrupted jobs will be finished at the next start (pipeline watch --once)")

    def _recover(self) -> None:
        try:
            result = self._pool.submit(worker.recover_jobs).result()
        except BrokenProcessPool:
            log.error("finishing interrupted jobs crashed a worker; they stay unfinished until the next start")
            self._pool_restarts += 1
            wait_for_orphaned_workers(self.root, timeout=ORPHAN_WAIT_SECONDS)
            self._remove_leftovers_of_a_crash()
            self._start_pool()
            return
        if result["kind"] == "error":
            log.error("could not finish interrupted jobs: %s", result["error"])
            log.debug(result.get("trace", ""))
            return
        for rec in result["records"]:
            self._recovered.add(rec.get("source"))
            self.summary.recovered += 1
            self._report(rec, source=rec.get("source", "?"), prefix="(recovered) ")

    def _remove_leftovers_of_a_crash(self) -> None:
        """A worker killed in the middle of writing an output leaves its temporary file; the broken
        pool's workers are gone now (waited for), so it goes before new workers start. A file
        written less than a second ago is only taken once it has been quiet that long (it could be
        another program's write, between closing the file and renaming it), so look again then."""
        self._remove_leftovers()
        if candidate_temp_files(self.root):
            time.sleep(1.1)
            self._remove_leftovers()

    def _remove_leftovers(self) -> None:
        for path in remove_stale_temp_files(self.root):
            log.info("removed   %s (temporary file left by an interrupted write)", for_log(relative(self.root, path)))

    def _maybe_expire(self) -> None:
        """Once a day, in a worker: released images whose consent expired are re-rendered or retracted."""
        if self._expiry is not None:
            if not self._expiry.done():
                return
            self._collect_expiry()
        now = time.monotonic()
        if self._last_expiry and now - self._last_expiry < PURGE_EVERY_SECONDS:
            return
        self._last_expiry = now
        try:
            self._expiry = self._pool.submit(worker.expire_due, self.actor)
        except (BrokenProcessPool, RuntimeError):
            self._expiry = None

    def _collect_expiry(self) -> None:
        fut, self._expiry = self._expiry, None
        try:
            result = fut.result()
        except Exception as exc:  # a crashed worker: retried tomorrow
            log.error("the daily consent-expiry check failed: %s", exc)
            return
        if result["kind"] == "error":
            log.error("the daily consent-expiry check failed: %s", result["error"])
            log.debug(result.get("trace", ""))
            return
        for line in result["lines"]:
            log.info("expiry    %s", line)

    def _maybe_purge(self) -> None:
        now = time.monotonic()
        if self._last_purge and now - self._last_purge < PURGE_EVERY_SECONDS:
            return
        self._last_purge = now
        self._remove_leftovers()
        from pipeline.delivery.purge import purge_originals

        try:
            result = purge_originals(self.ws, actor=self.actor)
        except Exception as exc:  # the watcher keeps running; purge is retried tomorrow
            log.error("purge of old originals failed: %s", exc)
            return
        n = len(result["purged"])
        self.summary.purged += n
        if n:
            log.info("purged the originals of %d job(s) older than %d days", n, result["retention_days"])
        for err in result["errors"]:
            log.error("could not purge %s: %s", err["file"], err["error"])

    def _start_observer(self) -> None:
        from watchdog.events import FileSystemEventHandler

        wake = self._wake

        class Wake(FileSystemEventHandler):
            def on_any_event(self, event):
                wake.set()

        observer = None
        if self.mode == "native":
            from watchdog.observers import Observer

            try:
                observer = Observer()
                observer.schedule(Wake(), str(self.inbox), recursive=True, follow_symlink=False)
                observer.start()
                self._observer_kind = "native"
            except OSError as exc:
                log.warning("native file events unavailable (%s); polling every %.1f s instead", exc, self.poll_interval)
                observer = None
        if observer is None:
            from watchdog.observers.polling import PollingObserverVFS

            # lstat: the poller must never follow a link out of the inbox either
            observer = PollingObserverVFS(os.lstat, os.scandir, polling_interval=self.poll_interval)
            observer.schedule(Wake(), str(self.inbox), recursive=True)
            observer.start()
            self._observer_kind = "polling"
        self._observer = observer

    _observer_kind = "none"

    def _shutdown(self) -> None:
        if self._observer is not None:
            self._observer.stop()
        # files not yet started go back to the inbox untouched; those started are finished
        for fut in list(self._in_flight):
            if fut.cancel():
                self._in_flight.pop(fut)
                self._pool_of.pop(fut, None)
        while self._in_flight:
            done, _ = cf.wait(list(self._in_flight), timeout=1.0)
            for fut in done:
                self._collect(fut)
        if self._expiry is not None:
            if self._expiry.cancel():
                self._expiry = None
            else:
                cf.wait([self._expiry])
                self._collect_expiry()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._observer is not None:
            self._observer.join(timeout=5)

    # ---- the loop ----------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            pending = self._pass()
            if self.once and pending == 0 and not self._in_flight:
                if self._expiry is not None:
                    cf.wait([self._expiry])
                    self._collect_expiry()
                break
            if not self.once:
                self._maybe_purge()
                self._maybe_expire()
            if self._in_flight:
                done, _ = cf.wait(list(self._in_flight), timeout=self.tick, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    self._collect(fut)
            elif pending:
                self._wake.wait(self.tick)
            else:
                self._wake.wait(IDLE_RESCAN_SECONDS)
                if self._wake.is_set() and not self._stopping:
                    time.sleep(min(self.tick, 0.1))  # let a burst of events settle

    def _pass(self) -> int:
        """One listing of the inbox: hand out what is ready. Returns how many items still wait."""
        for fut in [f for f in self._in_flight if f.done()]:
            self._collect(fut)
        scan = inbox_mod.scan(self.inbox)
        now = time.monotonic()
        present = {e.path for e in scan.entries}
        self.tracker.keep_only(present)
        for path in [p for p in self._set_aside if p not in present]:
            del self._set_aside[path]
        for e in scan.entries:
            self.tracker.observe(e.path, e.sig, now)
        for path, problem in scan.problems:
            self._tell_once(("problem", path, problem), logging.ERROR,
                            "cannot open  %s (%s); fix its permissions so the watcher can list it",
                            for_log(relative(self.root, path)), problem)
            if relative(self.root, path) not in self.summary.stuck:
                self.summary.stuck.append(relative(self.root, path))
        in_hand = {e.path for e in self._in_flight.values()}
        # Files of equal size are never processed at the same time: identical content (the same photo
        # dropped twice) always has equal size, and the second must see the first one's finished job
        # to be recorded as its duplicate instead of being processed twice.
        sizes_in_hand = {e.sig[0] for e in self._in_flight.values()}
        pending = 0
        for e in sorted(scan.entries, key=lambda e: os.fsencode(e.path)):
            if self._stopping:
                break
            if e.path in in_hand:
                continue
            if e.path in self._set_aside:
                if self._set_aside[e.path] == e.sig:
                    continue
                del self._set_aside[e.path]  # changed since: try again
            if e.kind == inbox_mod.CAPTION:
                continue  # travels with its photo
            if e.kind == inbox_mod.EMPTY_DIR:
                # After a removal look again: the folder above may be empty now (a folder dropped
                # whole, several levels deep, is removed from the bottom up).
                if not self.tracker.is_stable(e.path, now) or self._remove_empty_dir(e.path):
                    pending += 1
                continue
            long = e.kind == inbox_mod.PHOTO and e.path.name.endswith(inbox_mod.CAPTION_SUFFIX)
            ready = self.tracker.is_stable(e.path, now, long=long) and all(
                self.tracker.is_stable(c, now) for c in e.partners)
            if not ready:
                pending += 1
                continue
            if e.kind in QUARANTINE_REASONS:
                self._quarantine(e)
                continue
            if len(self._in_flight) >= self.max_in_flight or e.sig[0] in sizes_in_hand:
                pending += 1
                continue
            check = not (long or e.kind in NEVER_DECODE or self.tracker.is_incomplete(e.path))
            source = relative(self.root, e.path)
            try:
                fut = self._pool.submit(worker.handle, os.fspath(e.path), source, check)
            except (BrokenProcessPool, RuntimeError):
                self._restart_pool()
                pending += 1
                continue
            self._in_flight[fut] = e
            self._pool_of[fut] = self._pool
            in_hand.add(e.path)
            sizes_in_hand.add(e.sig[0])
        return pending

    def _collect(self, fut: cf.Future) -> None:
        entry = self._in_flight.pop(fut, None)
        pool = self._pool_of.pop(fut, None)
        if entry is None:
            return
        try:
            result = fut.result()
        except cf.CancelledError:
            return
        except BrokenProcessPool:
            self._broken_pool(pool, entry)
            return
        except Exception as exc:  # pickling trouble and the like
            self._failed(entry, f"{type(exc).__name__}: {exc}")
            return
        self._handle(entry, result)

    def _broken_pool(self, pool, first: inbox_mod.Entry) -> None:
        """A worker died (crash, OOM killer): every photo handed to that pool is accounted for, then
        new workers start and the interrupted jobs are finished (see _restart_pool)."""
        hit = [first]
        for fut in [f for f, p in self._pool_of.items() if p is pool]:
            entry = self._in_flight.pop(fut)
            self._pool_of.pop(fut)
            try:
                result = fut.result(timeout=60)
            except Exception:
                hit.append(entry)
            else:
                self._handle(entry, result)
        names = ", ".join(for_log(relative(self.root, e.path)) for e in hit)
        log.warning("a worker process stopped unexpectedly while handling %s", names)
        if pool is self._pool:
            self._restart_pool()
        for entry in hit:
            source = relative(self.root, entry.path)
            if not os.path.lexists(entry.path):
                # its job was finished by a surviving worker, or just now by the recovery: report it once
                if source not in self._recovered:
                    row = self.ws.db.execute("SELECT result_json FROM jobs WHERE source=? AND state='done'"
                                             " ORDER BY id DESC LIMIT 1", (source,)).fetchone()
                    if row is not None and row["result_json"]:
                        self._report(json.loads(row["result_json"]), source=source)
                continue
            self._failures[entry.path] += 1  # never started, or stopped before its job existed
            if self._failures[entry.path] >= MAX_FAILURES:
                self._give_up(entry, source, "a worker process stopped unexpectedly while handling it, twice")
            else:
                log.info("retrying  %s (its worker stopped before processing it)", for_log(source))

    def _handle(self, entry: inbox_mod.Entry, result: dict) -> None:
        source = relative(self.root, entry.path)
        kind = result["kind"]
        if kind in ("done", "vanished"):
            self._told = {k for k in self._told if k[1] != entry.path}
        if kind == "done":
            self._failures.pop(entry.path, None)
            self._report(result["record"], source=source)
            self._check_gone(entry, source)
        elif kind == "deferred":
            if not result.get("changed"):
                self.tracker.mark_incomplete(entry.path, entry.sig)
                self._tell_once(("waiting", entry.path, entry.sig), logging.INFO,
                                "waiting   %s (%s; it is processed as it is if it stays unchanged for %.1f s)",
                                for_log(source), result["why"], self.tracker.settle_seconds)
        elif kind == "vanished":
            self.tracker.forget(entry.path)
            self.summary.vanished += 1
            log.info("vanished  %s (deleted or renamed before it could be processed; nothing to do)", for_log(source))
        elif kind == "error":
            log.debug(result.get("trace", ""))
            self._failed(entry, result["error"])

    def _failed(self, entry: inbox_mod.Entry, why: str) -> None:
        source = relative(self.root, entry.path)
        self._failures[entry.path] += 1
        if not os.path.lexists(entry.path):
            log.error("error     %s (%s); its job is finished when the watcher next starts", for_log(source), why)
            return
        if self._failures[entry.path] >= MAX_FAILURES:
            self._give_up(entry, source, why)
        else:
            log.warning("error     %s (%s); will try once more", for_log(source), why)

    def _give_up(self, entry: inbox_mod.Entry, source: str, why: str) -> None:
        self._set_aside[entry.path] = entry.sig
        if source not in self.summary.failed:
            self.summary.failed.append(source)
        log.error("error     %s (%s); left in the inbox and not retried until it changes or the watcher restarts",
                  for_log(source), why)

    def _check_gone(self, entry: inbox_mod.Entry, source: str) -> None:
        """A recorded file must have left the inbox; if it could not be moved, do not take it again."""
        try:
            st = os.lstat(entry.path)
        except FileNotFoundError:
            self.tracker.forget(entry.path)
            return
        if inbox_mod.signature(st) == entry.sig:
            self._set_aside[entry.path] = entry.sig
            if source not in self.summary.stuck:
                self.summary.stuck.append(source)
            log.error("stuck     %s (recorded, but it could not be moved out of the inbox); "
                      "give the pipeline write access to that folder, or remove the file by hand", for_log(source))

    def _quarantine(self, e: inbox_mod.Entry) -> None:
        reason, advice = QUARANTINE_REASONS[e.kind]
        source = relative(self.root, e.path)
        try:
            record = quarantine_entry(self.ws, e.path, reason=reason, advice=advice, actor=self.actor,
                                      captions=e.partners)
        except FileNotFoundError:
            self.tracker.forget(e.path)
            return
        except OSError as exc:
            self._set_aside[e.path] = e.sig
            if source not in self.summary.stuck:
                self.summary.stuck.append(source)
            log.error("stuck     %s (%s, and it cannot be moved: %s); remove it from the inbox by hand",
                      for_log(source), reason, exc.strerror or exc)
            return
        self.tracker.forget(e.path)
        self._report(record, source=source)

    def _remove_empty_dir(self, path: Path) -> bool:
        try:
            os.rmdir(path)
        except OSError:
            return False  # not empty any more, or not ours to remove: leave it
        self.tracker.forget(path)
        return True

    def _report(self, record: dict, *, source: str, prefix: str = "") -> None:
        status = record.get("status") or "?"
        self.summary.statuses[status] += 1
        if (record.get("reason") or "").startswith("duplicate"):
            self.summary.duplicates += 1
        log.info("%-9s %s%s -> %s", status, prefix, for_log(source), for_log(describe(record)))
        if self.on_record is not None:
            self.on_record(record)

    def _tell_once(self, key: tuple, level: int, msg: str, *args) -> None:
        if key in self._told:
            return
        self._told.add(key)
        log.log(level, msg, *args)


def run_watch(ws, *, once: bool = False, actor: str = "watcher", on_record=None) -> Summary:
    """Run the watcher on ``ws`` until the inbox is drained (``once``) or a stop signal."""
    return Watcher(ws, once=once, actor=actor, on_record=on_record).run()

