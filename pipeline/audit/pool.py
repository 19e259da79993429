"""Where an audit's cache misses are analysed: worker processes here, or a Dask cluster.

Both come from ``pipeline.batch.executor`` (the same executors as ``pipeline process``):

- ``local``: a pool of worker processes on this computer (always a separate process, even with
  one worker, so a file that crashes a decoder cannot take the audit down; workers are replaced
  every ``MAX_TASKS_PER_WORKER`` files so their memory cannot creep up). Workers open the files
  themselves, read-only.
- ``dask``: the workers of a Dask scheduler, on other computers that share nothing with this
  one. The coordinator reads each file (read-only, as it does to hash it) and sends its bytes;
  the worker returns the analysis. The audited folders, the workspace and the database stay here.

``submit`` returns a ``concurrent.futures.Future`` of the analysis either way; the coordinator
bounds how many are in flight (``slots`` × 3), so memory stays flat however large the archive.
"""
from __future__ import annotations

import os
import warnings
from concurrent.futures import Future

from pipeline.audit.files import read_bytes, why_unreadable
from pipeline.audit.worker import METADATA_HEAD, analyse_data, analyse_file, unreadable_result
from pipeline.batch.executor import KINDS, DaskExecutor, ExecutorError, LocalExecutor

MAX_TASKS_PER_WORKER = 200
CONNECT_TIMEOUT = 20   # seconds to reach a Dask scheduler
WAIT_FOR_WORKERS = 15  # seconds to wait for its first worker


def make_audit_executor(kind: str = "local", *, scheduler: str | None = None, workers: int | None = None):
    """An executor for ``Auditor``; raises ``ExecutorError`` with a plain message."""
    if kind == "local":
        if scheduler:
            raise ExecutorError("--scheduler is only for --executor dask.")
        return LocalExecutor(workers, max_tasks_per_child=MAX_TASKS_PER_WORKER)
    if kind != "dask":
        raise ExecutorError(f"Unknown executor {kind!r}; choose one of: {', '.join(KINDS)}.")
    executor = DaskExecutor(scheduler, connect_timeout=CONNECT_TIMEOUT)
    if not executor.client.scheduler_info()["workers"]:
        try:
            executor.client.wait_for_workers(1, timeout=WAIT_FOR_WORKERS)
        except Exception:
            executor.close()
            raise ExecutorError(f"The Dask scheduler at {scheduler} has no workers. Start at least one with "
                                f"'dask worker {scheduler}' on a computer that has consent-pipeline installed "
                                "(see docs/scale.md).") from None
    return executor


def slots(executor) -> int:
    """How many files the executor analyses at once (Dask: worker threads on the whole cluster)."""
    if getattr(executor, "kind", None) == "dask":
        try:
            return max(1, sum(executor.client.nthreads().values()))
        except Exception:  # pragma: no cover - scheduler went away; the run will report it per file
            return max(1, executor.workers)
    return max(1, executor.workers)


def submit(executor, path: str, sha: str, size: int, settings: dict) -> Future:
    """Start the analysis of one file: by path on workers that see it, by its bytes on those that do not."""
    if executor.reads_files:
        return executor.submit(analyse_file, path, settings)
    name = os.path.basename(path)
    try:
        if size > settings["max_bytes"]:  # only the head travels: enough for the metadata
            return executor.submit(analyse_data, read_bytes(path, METADATA_HEAD, settings.get("follow_links", False)),
                                   name, settings, sha or "", size)
        data = read_bytes(path, settings["max_bytes"] + 1, settings.get("follow_links", False))
    except OSError as exc:  # it went away (or lost its permissions) since it was hashed
        done: Future = Future()
        done.set_result(unreadable_result(None, why_unreadable(exc), cacheable=False))
        return done
    with warnings.catch_warnings():
        # A photo is the task's argument by design (workers share no folder); Dask's advice for
        # large task graphs does not apply and would only puzzle the person running the audit.
        warnings.filterwarnings("ignore", message="Sending large graph")
        return executor.submit(analyse_data, data, name, settings)
