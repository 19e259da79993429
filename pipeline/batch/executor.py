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

Local workers keep the face models loaded for the whole batch and run OpenCV and ONNX Runtime
single-threaded, so two workers on two cores do not fight over them. They are started by ``fork``
from this process after it loaded the models once (``preload_models``): a batch pays the imports
and model loading once, not once per worker (~1 s of CPU each), and the workers share the models'
memory. Forking is only done when this process runs a single thread (a fork copies no other
thread, and a lock held by one would stay locked in the child), its libraries are set to one thread
each (several workers, or one core) and the pool does not replace its workers
(``max_tasks_per_child``); otherwise (e.g. a pool replaced mid-batch, the audit's pool)
workers are started with ``spawn`` and load the models themselves. A forked worker never touches
the coordinator's database connection: it opens its own, and leaves with ``os._exit``.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import threading
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
        warm_text_models()


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


def warm_text_models() -> None:
    """Load the text-in-picture models (read on every photo by default), so workers forked after
    this share them and a spawned worker's first photo does not pay for them."""
    try:
        from processors.text import engine

        engine.warm()
    except Exception:  # a missing text model is reported by each photo's analysis, not here
        pass


def _local_worker_setup(single_threaded: bool) -> None:
    """``worker_setup`` for the local pool, whose workers also leave without tearing down their
    modules (face models, ONNX Runtime): they write no file and hold nothing to flush, and the
    batch waits for them to exit."""
    import atexit

    worker_setup(single_threaded, True)
    atexit.register(os._exit, 0)


def _forked_worker_setup(single_threaded: bool) -> None:
    """The local pool's initializer in a worker forked from the coordinator (models already loaded):
    forget any per-workspace context the coordinator held (its database connections are the
    coordinator's), then the same set-up as a spawned worker (cheap: everything is loaded)."""
    runner = sys.modules.get("pipeline.batch.runner")  # (the runner imports this module, not the reverse)
    if runner is not None:
        runner.forget_contexts()
    _local_worker_setup(single_threaded)


def can_fork(max_tasks_per_child: int | None = None) -> bool:
    """Whether workers may be forked from this process now (see the module doc)."""
    return (max_tasks_per_child is None and "fork" in multiprocessing.get_all_start_methods()
            and threading.active_count() == 1)


def preload_models(single_threaded: bool) -> bool:
    """Load the face models in this process before forking workers; False if they cannot be loaded
    (the workers then load them themselves and report the problem per photo)."""
    try:
        worker_setup(single_threaded, True)
    except Exception:  # a missing model is reported by each photo's analysis, as with spawn
        return False
    for stream in (sys.stdout, sys.stderr):  # nothing buffered may be written twice by a child
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    return True


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
        self.start_method: str | None = None  # "fork" or "spawn", once the pool exists
        self._pool: ProcessPoolExecutor | None = None

    def _ensure(self) -> ProcessPoolExecutor:
        if self._pool is None:
            single = self.workers > 1 or available_cores() == 1
            # Forked workers inherit this process's native thread pools too (OpenCV's), which Python
            # cannot see: only fork once this process is set to one thread per library (``single``).
            fork = single and can_fork(self.max_tasks_per_child) and preload_models(single)
            self.start_method = "fork" if fork else "spawn"
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context(self.start_method),
                initializer=_forked_worker_setup if fork else _local_worker_setup, initargs=(single,),
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
