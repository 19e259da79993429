"""Workers forked from a coordinator that loaded the face models once (issue 21): the same results
as one-by-one processing, the coordinator's database untouched by its children, and ``spawn``
wherever forking would not be safe."""
from __future__ import annotations

import sqlite3
import threading

import pytest

from tests.test_executor import EVENTS, one_by_one, photos, run_batch, summary, template, ws_root  # noqa: F401


def test_forked_workers_give_the_one_by_one_results_and_leave_the_database_sound(ws_root, photos, one_by_one):
    from pipeline.batch.executor import LocalExecutor, can_fork

    if not can_fork():
        pytest.skip(f"this test process runs {threading.active_count()} threads: workers would be spawned")
    executor = LocalExecutor(2)
    records = run_batch(ws_root, [photos / n for n in EVENTS], executor)
    assert executor.start_method == "fork"
    assert summary(records) == summary(one_by_one)
    conn = sqlite3.connect(ws_root / "pipeline.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT count(*) FROM jobs WHERE state = 'done'").fetchone() == (len(EVENTS),)
        # every face the workers found was encoded in the child and recorded by the coordinator
        faces, encoded = conn.execute("SELECT count(*), count(encoding) FROM faces").fetchone()
        assert faces == sum(len(r["faces"]) for r in records) and encoded > 0
    finally:
        conn.close()


def test_forked_workers_see_the_models_the_coordinator_loaded(ws_root, photos):
    """The models are loaded before the fork: a worker's first photo loads nothing."""
    from pipeline.batch.executor import LocalExecutor, can_fork

    if not can_fork():
        pytest.skip("workers would be spawned in this test process")
    with LocalExecutor(2) as executor:
        executor.start()
        assert executor.start_method == "fork"
        assert executor.submit(_models_loaded).result(timeout=120) is True


def _models_loaded() -> bool:
    from processors import centerface, centerface_int8, dlib_resnet

    return (getattr(centerface._local, "session", None) is not None
            and hasattr(centerface_int8._local, "session")
            and getattr(dlib_resnet._local, "loaded", None) is not None)


def test_workers_are_spawned_while_another_thread_runs_or_when_workers_are_replaced():
    from pipeline.batch.executor import LocalExecutor, can_fork

    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        assert not can_fork()  # a fork would copy this thread's locks, not the thread
        with LocalExecutor(1) as executor:
            assert executor.submit(_answer).result(timeout=120) == 42
            assert executor.start_method == "spawn"
    finally:
        stop.set()
        other.join()
    assert not can_fork(max_tasks_per_child=200)  # the audit's pool replaces its workers: spawn


def _answer() -> int:
    return 42
