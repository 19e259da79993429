"""Where the heavy per-photo work runs: a local process pool, or a Dask cluster.

Both executors offer the same three calls, so a batch (``pipeline process``, ``pipeline audit``)
is written once:

- ``submit(fn, *args) -> concurrent.futures.Future`` — run ``fn(*args)`` on a worker;
- ``share(obj)`` — something every task may receive as an argument: the object itself on the
  local pool (it is small), a Dask future of the object scattered once to every worker on a
  cluster (so a register snapshot travels to each machine once, not with every photo);
- ``close()``.

``reads_files`` says whether workers see this computer's files: local workers may open the
workspace and the photos themselves; Dask workers share nothing with the coordinator, so they get
a photo's *bytes* and return results, and the coordinator alone writes files and the database.

Local workers are started with ``spawn`` (no inherited database connections or threads), keep
the face models loaded for the whole batch (``worker_setup`` loads them once per process) and run
OpenCV single-threaded, so two workers on two cores do not fight over them.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor

KINDS = ("local", "dask")


class ExecutorError(Exception):
    """The executor could not be started (e.g. no Dask scheduler at that address); plain message."""


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def worker_setup(single_threaded: bool = True, warm: bool = True) -> None:
    """Run once in every worker process: one thread per library, face models loaded now."""
    if single_threaded:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")
        try:
            import cv2

            cv2.setNumThreads(1)
        except ImportError:  # pragma: no cover - opencv comes with the detector
            pass
    if warm:
        warm_models()


def warm_models() -> None:
    """Load the detector and recogniser models (dlib_models and the detector cache them per process)."""
    import numpy as np

    from processors import centerface, centerface_int8, dlib_models, dlib_resnet
    from processors.face_detect import detect_faces

    centerface_int8.session()
    centerface.warm()
    detect_faces(np.zeros((48, 48, 3), dtype=np.uint8))
    dlib_models.load("landmarks_5")
    dlib_resnet.warm()


def _local_worker_setup(single_threaded: bool) -> None:
    """``worker_setup`` for the local pool, whose workers also leave without tearing down their
    modules (face models, ONNX Runtime): they write no file and hold nothing to flush, and the
    batch waits for them to exit."""
    import atexit

    worker_setup(single_threaded, True)
    atexit.register(os._exit, 0)


def _ready() -> None:
    """A task that does nothing: it makes the pool start (and warm up) a worker."""


class InlineExecutor:
    """Runs each task at once in this process: for a single photo or ``--workers 1`` (no start-up cost)."""

    kind = "inline"
    reads_files = True
    workers = 1
    generation = 0

    def submit(self, fn, *args) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args))
        except BaseException as exc:
            fut.set_exception(exc)
        return fut

    def share(self, obj):
        return obj

    def restart(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class LocalExecutor:
    """A pool of worker processes on this computer (default: one per CPU core)."""

    kind = "local"
    reads_files = True

    def __init__(self, workers: int | None = None, *, max_tasks_per_child: int | None = None):
        self.workers = max(1, workers or available_cores())
        self.max_tasks_per_child = max_tasks_per_child
        self.generation = 0  # bumped each time a broken pool is replaced
        self._pool: ProcessPoolExecutor | None = None

    def _ensure(self) -> ProcessPoolExecutor:
        if self._pool is None:
            single = self.workers > 1 or available_cores() == 1
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_local_worker_setup, initargs=(single,),
                max_tasks_per_child=self.max_tasks_per_child)
        return self._pool

    def submit(self, fn, *args) -> Future:
        return self._ensure().submit(fn, *args)

    def start(self) -> None:
        """Start every worker now, so they load the face models while the caller gets ready."""
        pool = self._ensure()
        for _ in range(self.workers):
            pool.submit(_ready)

    def share(self, obj):
        return obj

    def restart(self) -> None:
        """Replace a broken pool (a worker died) with a fresh one."""
        self.generation += 1
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class DaskExecutor:
    """Tasks on a Dask distributed cluster (``--scheduler tcp://HOST:8786``).

    Workers need this project installed (same version) and nothing else: no workspace, no
    database, no access to the photos' folders.
    """

    kind = "dask"
    reads_files = False
    generation = 0

    def __init__(self, scheduler: str | None = None, *, client=None, connect_timeout: float = 20):
        try:
            from distributed import Client
        except ImportError:
            raise ExecutorError("Running on a Dask cluster needs the 'dask' extra: "
                                "pip install 'consent-pipeline[dask]' (scripts/setup installs it).") from None
        self._own_client = client is None
        if client is None:
            if not scheduler:
                raise ExecutorError("--executor dask needs --scheduler ADDRESS (for example tcp://10.0.0.5:8786).")
            try:
                client = Client(scheduler, timeout=connect_timeout, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise ExecutorError(
                    f"Could not reach the Dask scheduler at {scheduler} ({exc}). Check that "
                    "'dask scheduler' runs there and that this computer can reach its port.") from None
        self.client = client
        self.workers = max(1, self._count_workers())
        self._warmed = False

    def _count_workers(self) -> int:
        try:
            return len(self.client.scheduler_info()["workers"])
        except Exception:  # pragma: no cover - scheduler_info shape differs between versions
            return 1

    def submit(self, fn, *args) -> Future:
        bridged: Future = Future()
        dask_future = self.client.submit(fn, *args, pure=False)
        bridged._dask_future = dask_future  # keeps the task (and its result on the worker) alive

        def done(f):
            try:
                bridged.set_result(f.result())
            except BaseException as exc:  # the task's own exception, or a lost worker
                bridged.set_exception(exc)

        dask_future.add_done_callback(done)
        return bridged

    def share(self, obj):
        return self.client.scatter(obj, broadcast=True, hash=False)

    def restart(self) -> None:
        pass  # Dask reschedules the tasks of a lost worker itself

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def make_executor(kind: str = "local", *, scheduler: str | None = None, workers: int | None = None):
    """``local`` (a process pool of ``workers``, default one per core) or ``dask`` (``scheduler``)."""
    if kind == "local":
        if scheduler:
            raise ExecutorError("--scheduler is only for --executor dask.")
        if workers == 1:
            return InlineExecutor()
        return LocalExecutor(workers)
    if kind == "dask":
        return DaskExecutor(scheduler)
    raise ExecutorError(f"Unknown executor {kind!r}; choose one of: {', '.join(KINDS)}.")
