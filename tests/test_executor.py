"""Batches spread over workers: a local process pool and a Dask LocalCluster give the same results as
one-by-one processing; duplicates, register changes mid-batch and crashing workers stay safe."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import fixtures_dir, run_pipeline
from tests.test_process import write_register

EVENTS = ["kit_with_rose.jpg", "obama1.jpg", "obama_and_biden.jpg", "two_people.jpg"]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """An enrolled workspace (five fixture people), copied afresh for each test."""
    from click.testing import CliRunner

    from pipeline.cli import main

    root = tmp_path_factory.mktemp("template") / "ws"
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(root)]).exit_code == 0
    csv = write_register(root.parent / "register.csv")
    assert runner.invoke(main, ["--workspace", str(root), "consent", "import", str(csv)]).exit_code == 0
    r = runner.invoke(main, ["--workspace", str(root), "consent", "enrol", str(fixtures_dir("faces", "enrol"))])
    assert r.exit_code == 0, r.output
    return root


@pytest.fixture
def ws_root(template, tmp_path):
    dest = tmp_path / "ws"
    shutil.copytree(template, dest)
    return dest


@pytest.fixture
def photos(tmp_path):
    src = fixtures_dir("faces", "events")
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in EVENTS:
        shutil.copy2(src / name, folder / name)
    return folder


def run_batch(root: Path, inputs: list[Path], executor, **kw) -> list[dict]:
    from pipeline.batch.runner import Batch
    from pipeline.workspace import open_workspace

    ws = open_workspace(root)
    try:
        with executor:
            return list(Batch(ws, executor, **kw).run(inputs))
    finally:
        ws.close()


def summary(records: list[dict]) -> list[tuple]:
    """What must not depend on where a photo was analysed."""
    return [(Path(r["source"]).name, r["status"], r["reason"],
             [(tuple(f["box"]), f["person"], f["match"], tuple(sorted(f["decisions"].items()))) for f in r["faces"]],
             sorted(r.get("outputs", {}))) for r in records]


@pytest.fixture(scope="module")
def one_by_one(template, tmp_path_factory):
    """The reference: the same photos through process_file, one after another, in this process."""
    from pipeline.context import RunContext
    from pipeline.process import process_file
    from pipeline.workspace import open_workspace

    root = tmp_path_factory.mktemp("ref") / "ws"
    shutil.copytree(template, root)
    ws = open_workspace(root)
    ctx = RunContext(ws)
    src = fixtures_dir("faces", "events")
    try:
        return [process_file(ws, src / name, ctx=ctx) for name in EVENTS]
    finally:
        ws.close()


def _outputs_exist(root: Path, records: list[dict]) -> None:
    for r in records:
        for rel in r.get("outputs", {}).values():
            assert (root / rel).is_file() and (root / rel).stat().st_size > 1000, rel


def test_local_pool_matches_one_by_one_and_records_everything(ws_root, photos, one_by_one):
    from pipeline.batch.executor import LocalExecutor

    inputs = [photos / n for n in EVENTS]
    records = run_batch(ws_root, inputs, LocalExecutor(2))
    assert summary(records) == summary(one_by_one)
    assert [Path(r["source"]).name for r in records] == EVENTS  # input order kept
    _outputs_exist(ws_root, records)
    conn = sqlite3.connect(ws_root / "pipeline.db")
    states = conn.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall()
    faces = conn.execute("SELECT count(*), count(encoding) FROM faces").fetchone()
    conn.close()
    assert states == [("done", len(EVENTS))]
    assert faces[0] == sum(len(r["faces"]) for r in records) and faces[1] > 0


def test_same_photo_twice_in_a_batch_is_analysed_once(ws_root, photos):
    from pipeline.batch.executor import LocalExecutor

    twin = photos / "copy_of_obama.jpg"
    shutil.copy2(photos / "obama1.jpg", twin)
    calls = []

    class Counting(LocalExecutor):
        def submit(self, fn, *args):
            calls.append(args[1])
            return super().submit(fn, *args)

    records = run_batch(ws_root, [photos / "obama1.jpg", twin, photos / "two_people.jpg"], Counting(2))
    assert [r["status"] for r in records] == ["released", "released", "released"]
    assert records[1]["reason"].startswith("duplicate of") and records[1]["outputs"] == {}
    assert sorted(calls) == ["obama1.jpg", "two_people.jpg"]


def test_consent_withdrawn_while_a_photo_is_analysed_is_not_released_on_the_old_register(ws_root, photos):
    """The worker decides on the register it saw; the coordinator notices the change before recording,
    and the photo is analysed again on the new register: obama is then blurred on the website."""
    from consent.database import connect
    from consent.register import set_consent
    from pipeline.batch.executor import InlineExecutor

    class WithdrawDuringFirstTask(InlineExecutor):
        done = False

        def submit(self, fn, *args):
            fut = super().submit(fn, *args)
            if not self.done:
                self.done = True
                conn = connect(ws_root / "pipeline.db")
                set_consent(conn, "obama", "website", "withdrawn", reason="parent phoned", actor="test")
                conn.close()
            return fut

    records = run_batch(ws_root, [photos / "obama1.jpg"], WithdrawDuringFirstTask())
    (face,) = records[0]["faces"]
    assert face["person"] == "obama"
    assert face["decisions"]["website"] == "blur" and face["decisions"]["social"] == "keep"


def _die(*_args):
    os._exit(3)  # a decoder or dlib crash takes the whole worker process down


def test_a_photo_that_kills_its_worker_is_rejected_and_the_rest_go_on(ws_root, photos):
    from pipeline.batch.executor import LocalExecutor

    bad = photos / "crash.jpg"
    shutil.copy2(photos / "kit_with_rose.jpg", bad)
    (bad.parent / "crash.jpg").write_bytes(bad.read_bytes() + b"\0")  # different content, not a duplicate

    class Crashing(LocalExecutor):
        def submit(self, fn, *args):
            if args[1] == "crash.jpg":
                return super().submit(_die, *args)
            return super().submit(fn, *args)

    inputs = [photos / "obama1.jpg", bad, photos / "two_people.jpg", photos / "kit_with_rose.jpg"]
    records = run_batch(ws_root, inputs, Crashing(2))
    by_name = {Path(r["source"]).name: r for r in records}
    assert by_name["crash.jpg"]["status"] == "rejected"
    assert "could not be checked" in by_name["crash.jpg"]["reason"]
    # rose_leslie is never-publish in this register: kit_with_rose is blocked, as one by one
    assert [by_name[n]["status"] for n in ("obama1.jpg", "two_people.jpg", "kit_with_rose.jpg")] == \
        ["released", "released", "blocked"]
    quarantined = [p.name for p in (ws_root / "quarantine").iterdir()]
    assert any(n.endswith("crash.jpg") for n in quarantined) and any(n.endswith(".reason.txt") for n in quarantined)


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed", reason="needs the 'dask' extra (scripts/setup installs it)")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    yield cluster, client
    client.close()
    cluster.close()


def test_dask_cluster_of_two_workers_matches_one_by_one(ws_root, photos, one_by_one, dask_cluster):
    from pipeline.batch.executor import DaskExecutor

    cluster, client = dask_cluster
    executor = DaskExecutor(client=client)
    assert executor.workers == 2 and not executor.reads_files
    records = run_batch(ws_root, [photos / n for n in EVENTS], executor)
    assert summary(records) == summary(one_by_one)
    _outputs_exist(ws_root, records)
    # Both workers took part, and none of them opened the workspace (they share nothing).
    per_worker = client.run(lambda: __import__("pipeline.batch.runner", fromlist=["_contexts"])._contexts)
    assert all(ctxs == {} for ctxs in per_worker.values())


def test_dask_photo_whose_worker_died_is_sent_once_more(ws_root, photos, dask_cluster, tmp_path):
    """On a cluster a photo can fail because its worker died under another photo (Dask's KilledWorker):
    it is sent once more before being rejected, so a bystander is still released."""
    from pipeline.batch.executor import DaskExecutor

    _cluster, client = dask_cluster
    marker = str(tmp_path / "died-once")

    def fail_first_time(fn, *args):  # a closure: Dask ships it by value to the workers
        import os as _os

        if not _os.path.exists(marker):
            open(marker, "w").close()
            raise RuntimeError("the worker running this photo died")
        return fn(*args)

    def always_fail(fn, *args):
        raise RuntimeError("the worker running this photo died")

    class Flaky(DaskExecutor):
        def submit(self, fn, *args):
            if args[1] == "obama1.jpg":
                return super().submit(fail_first_time, fn, *args)
            if args[1] == "two_people.jpg":
                return super().submit(always_fail, fn, *args)
            return super().submit(fn, *args)

    records = run_batch(ws_root, [photos / "obama1.jpg", photos / "two_people.jpg"], Flaky(client=client))
    status = {Path(r["source"]).name: r["status"] for r in records}
    assert os.path.exists(marker)
    assert status == {"obama1.jpg": "released", "two_people.jpg": "rejected"}  # failing twice: fail safe


def test_cli_process_with_dask_scheduler(ws_root, photos, dask_cluster):
    cluster, _client = dask_cluster
    r = run_pipeline("--workspace", ws_root, "process", photos, "--json", "--executor", "dask",
                     "--scheduler", cluster.scheduler_address)
    assert r.returncode == 0, r.stderr
    records = [json.loads(line) for line in r.stdout.splitlines()]
    assert sorted(Path(x["source"]).name for x in records) == sorted(EVENTS)
    status = {Path(x["source"]).name: x["status"] for x in records}
    assert status == {"kit_with_rose.jpg": "blocked", "obama1.jpg": "released", "obama_and_biden.jpg": "released",
                      "two_people.jpg": "released"}
    assert "Done: 4 photo(s): 1 blocked, 3 released." in r.stderr


def test_cli_executor_mistakes_are_plain(ws_root, photos, cli):
    r = cli("process", photos, "--executor", "dask", workspace=ws_root)
    assert r.exit_code == 2 and "--scheduler" in r.output and "Traceback" not in r.output
    r = cli("process", photos, "--scheduler", "tcp://127.0.0.1:1", workspace=ws_root)
    assert r.exit_code == 2 and "only for --executor dask" in r.output


def test_unreachable_scheduler_is_a_plain_error():
    pytest.importorskip("distributed")
    from pipeline.batch.executor import DaskExecutor, ExecutorError

    with pytest.raises(ExecutorError, match="Could not reach the Dask scheduler at tcp://127.0.0.1:9"):
        DaskExecutor("tcp://127.0.0.1:9", connect_timeout=2)
