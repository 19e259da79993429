"""`pipeline audit --executor dask`: a Dask LocalCluster of two workers finds exactly what local workers
find, the workers get bytes (never a path), the coordinator alone writes (the cache), the audited tree
is untouched, a file that kills its worker is reported as not checked, and option mistakes are plain."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import fixtures_dir, json_lines, run_pipeline
from tests.test_audit import build_archive, by_path, enrolled_workspace, snapshot

distributed = pytest.importorskip("distributed", reason="needs the 'dask' extra (scripts/setup installs it)")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A workspace with the register (biden withdrawn on website) and reference photos, and the archive."""
    root = tmp_path_factory.mktemp("audit-dask")
    ws = enrolled_workspace(root)
    return root, ws, build_archive(root)


@pytest.fixture
def fresh_ws(template, tmp_path):
    """A copy of the enrolled workspace with an empty audit cache."""
    _root, ws, _archive = template
    dest = tmp_path / "ws"
    shutil.copytree(ws, dest)
    return dest


@pytest.fixture(scope="module")
def cluster():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = distributed.Client(cluster, set_as_default=False)
    yield cluster, client
    client.close()
    cluster.close()


def audit_records(ws_root: Path, archive: Path, executor=None, workers=None) -> tuple[list[dict], object]:
    from pipeline.audit.run import Auditor
    from pipeline.workspace import open_workspace

    ws = open_workspace(ws_root)
    try:
        auditor = Auditor(ws, executor=executor, workers=workers)
        return [r.to_json() for r in auditor.run([str(archive)])], auditor
    finally:
        ws.close()


def comparable(record: dict) -> tuple:
    """What must not depend on where a file was analysed."""
    faces = [(tuple(f["box"]), f["person"], f["match"], f["too_small"], tuple(sorted(f["findings"].items())))
             for f in record["faces"]]
    findings = sorted(json.dumps(f, sort_keys=True) for f in record["findings"])
    return (record["ok"], record["checked"], record["error"], record["note"], record["sha256"], record["format"],
            record["width"], record["height"], sorted(record["metadata_found"]), faces, findings)


class RecordingDask:
    """A DaskExecutor that notes what each task was sent (to show the workers get bytes, not paths)."""

    def __new__(cls, client):
        from pipeline.batch.executor import DaskExecutor

        class Recording(DaskExecutor):
            sent: list = []

            def submit(self, fn, *args):
                self.sent.append((fn.__name__, args))
                return super().submit(fn, *args)

        return Recording(client=client)


def test_two_dask_workers_find_what_local_workers_find_and_touch_nothing(template, fresh_ws, tmp_path, cluster):
    _root, ws, archive = template
    _cluster, client = cluster
    before = snapshot(archive)
    local_ws = tmp_path / "local-ws"
    shutil.copytree(fresh_ws, local_ws)
    local, _ = audit_records(local_ws, archive, workers=2)

    executor = RecordingDask(client)
    assert executor.workers == 2 and not executor.reads_files
    on_dask, auditor = audit_records(fresh_ws, archive, executor=executor)

    assert by_path(local, archive).keys() == by_path(on_dask, archive).keys()
    for rel, rec in by_path(on_dask, archive).items():
        assert comparable(rec) == comparable(by_path(local, archive)[rel]), rel
    assert not any(r["from_cache"] for r in on_dask)
    # the archive really has findings of every sort, so the comparison means something
    kinds = {f["kind"] for r in on_dask for f in r["findings"]}
    assert {"gps", "full_name_in_filename", "full_name_in_metadata", "face_withdrawn", "face_refused",
            "face_expired", "face_never_publish", "face_unknown"} <= kinds
    assert any(r["error"] for r in on_dask)  # the damaged photo is reported, not skipped

    # Workers got each photo's bytes and its bare name, never a path into the archive.
    assert executor.sent and auditor.analysed == len(executor.sent)
    for fn_name, args in executor.sent:
        assert fn_name == "analyse_data" and isinstance(args[0], bytes)
        assert not any(isinstance(a, str) and str(archive) in a for a in args[1:])
    assert snapshot(archive) == before

    # The coordinator wrote the cache: a second audit on the cluster analyses nothing.
    conn = sqlite3.connect(fresh_ws / "pipeline.db")
    rows = conn.execute("SELECT count(*) FROM audit_cache").fetchone()[0]
    conn.close()
    assert rows == len({r["sha256"] for r in on_dask if r["checked"] or (r["error"] and r["sha256"])})
    again, auditor2 = audit_records(fresh_ws, archive, executor=RecordingDask(client))
    assert auditor2.analysed == 0
    assert [comparable(r) for r in again] == [comparable(r) for r in on_dask]


def test_cli_audit_on_a_dask_scheduler(template, fresh_ws, tmp_path, cluster):
    _root, _ws, archive = template
    dask_cluster, _client = cluster
    before = snapshot(archive)
    report = tmp_path / "report.jsonl"
    r = run_pipeline("--workspace", fresh_ws, "audit", archive / "events" / "2019", archive / "broken",
                     "--format", "json", "--output", report, "--executor", "dask",
                     "--scheduler", dask_cluster.scheduler_address)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    records = {Path(x["path"]).name: x for x in json_lines(report.read_text("utf-8"))}
    assert set(records) == {"two_people.jpg", "corrupted.jpg"}
    two = records["two_people.jpg"]
    assert two["checked"] and sorted(f["person"] for f in two["faces"]) == ["biden", "obama"]
    assert {(f["kind"], f["channel"]) for f in two["findings"] if f["kind"].startswith("face_")} == \
        {("face_withdrawn", "website")}
    assert records["corrupted.jpg"]["error"] and not records["corrupted.jpg"]["checked"]
    assert snapshot(archive) == before


def _die(*_args):
    os._exit(3)  # a decoder or dlib crash takes the whole worker process down


def test_a_file_that_kills_its_dask_worker_is_reported_and_the_audit_goes_on(template, fresh_ws, tmp_path):
    """Dask restarts the dead worker; with no retries allowed the task fails with KilledWorker at once."""
    import dask

    from pipeline.batch.executor import DaskExecutor

    events = fixtures_dir("faces", "events")
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(events / "obama1.jpg", tree / "a_obama.jpg")
    (tree / "b_crash.jpg").write_bytes((events / "obama1.jpg").read_bytes() + b"\0")
    shutil.copy(events / "alex_lacamoire1.jpg", tree / "c_alex.jpg")

    class Crashing(DaskExecutor):
        def submit(self, fn, *args):
            return super().submit(_die if args[1] == "b_crash.jpg" else fn, *args)

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                      dashboard_address=":0") as small, \
                distributed.Client(small, set_as_default=False) as client:
            records, _ = audit_records(fresh_ws, tree, executor=Crashing(client=client))
    got = {Path(r["path"]).name: r for r in records}
    assert list(got) == ["a_obama.jpg", "b_crash.jpg", "c_alex.jpg"]
    assert not got["b_crash.jpg"]["checked"] and not got["b_crash.jpg"]["ok"]
    assert "stopped working on this file" in got["b_crash.jpg"]["error"]
    assert got["a_obama.jpg"]["checked"] and got["c_alex.jpg"]["checked"]
    assert {f["kind"] for f in got["c_alex.jpg"]["findings"]} >= {"face_refused"}
    conn = sqlite3.connect(fresh_ws / "pipeline.db")
    cached = {row[0] for row in conn.execute("SELECT sha256 FROM audit_cache")}
    conn.close()
    assert got["b_crash.jpg"]["sha256"] not in cached  # a crash is never cached: the next audit tries again


# --------------------------------------------------------------------------- option mistakes (no fixtures)

@pytest.fixture
def folder(tmp_path):
    f = tmp_path / "photos"
    f.mkdir()
    (f / "notes.txt").write_text("nothing here\n")
    return f


def test_cli_executor_mistakes_are_plain(workspace, folder, cli, monkeypatch):
    from pipeline.audit import pool as audit_pool

    def plain(r, *needles):
        assert r.exit_code == 2 and "Traceback" not in r.output, r.output
        for needle in needles:
            assert needle in r.output, r.output

    plain(cli("audit", folder, "--executor", "dask", workspace=workspace), "--scheduler ADDRESS")
    plain(cli("audit", folder, "--scheduler", "tcp://127.0.0.1:1", workspace=workspace), "only for --executor dask")
    plain(cli("audit", folder, "--executor", "dask", "--scheduler", "tcp://127.0.0.1:1", "--workers", "2",
              workspace=workspace), "--workers is for --executor local")
    monkeypatch.setattr(audit_pool, "CONNECT_TIMEOUT", 2)
    plain(cli("audit", folder, "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9", workspace=workspace),
          "Could not reach the Dask scheduler at tcp://127.0.0.1:9")
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)  # as if the extra were not installed
    plain(cli("audit", folder, "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9", workspace=workspace),
          "pip install 'consent-pipeline[dask]'")


def test_a_scheduler_without_workers_is_a_plain_error(workspace, folder, cli, monkeypatch):
    from pipeline.audit import pool as audit_pool

    monkeypatch.setattr(audit_pool, "WAIT_FOR_WORKERS", 1)
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as empty:
        r = cli("audit", folder, "--executor", "dask", "--scheduler", empty.scheduler_address, workspace=workspace)
    assert r.exit_code == 2 and "has no workers" in r.output and "dask worker" in r.output, r.output


def test_a_large_photo_travels_without_dask_warnings(workspace, tmp_path, cluster):
    """An 11 MB photo is a task argument by design; Dask's 'large graph' advice is not shown to the user."""
    import warnings

    import numpy as np
    from PIL import Image

    tree = tmp_path / "big"
    tree.mkdir()
    noise = np.random.default_rng(3).integers(0, 255, (1950, 1950, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tree / "scan.png")
    assert (tree / "scan.png").stat().st_size > 10 * 1024 * 1024
    _cluster, client = cluster
    from pipeline.batch.executor import DaskExecutor

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records, auditor = audit_records(workspace, tree, executor=DaskExecutor(client=client))
    assert [r["checked"] for r in records] == [True] and auditor.analysed == 1
    assert not [w for w in caught if "large graph" in str(w.message)]
