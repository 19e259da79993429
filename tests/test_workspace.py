"""The workspace: init, permissions, migrations, choosing the workspace, configuration errors."""
from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import pytest

from consent import database
from consent import privacy_schema as consent_privacy_schema
from consent import schema as consent_schema
from pipeline import privacy_schema as pipeline_privacy_schema
from consent.identification import store as identification_store
from pipeline import schema as pipeline_schema
from pipeline.config import default_text
from pipeline.workspace import open_db, open_workspace
from tests.conftest import run_pipeline
from tests.register_helpers import HEADER, ROWS, write_csv

CHANNELS = ["website", "social", "newsletter", "press"]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_the_documented_layout(tmp_path, cli):
    root = tmp_path / "school"
    r = cli("init", root, expect=0)
    assert "Workspace ready" in r.stdout and "pipeline consent import" in r.stdout
    for sub in ("inbox", "approved", "review", "quarantine", "originals"):
        assert (root / sub).is_dir(), sub
    for channel in CHANNELS:
        assert (root / "approved" / channel).is_dir()
    assert (root / "pipeline.toml").read_text(encoding="utf-8") == default_text()
    assert _mode(root / "pipeline.db") == 0o600
    for private in ("originals", "quarantine", "review"):
        assert _mode(root / private) == 0o700, private


def test_database_and_its_wal_stay_private_while_in_use(loaded_ws):
    ws = open_workspace(loaded_ws)
    ws.db.execute("UPDATE people SET grp = 'Y9' WHERE person_id = 'P001'")
    files = sorted(loaded_ws.glob("pipeline.db*"))  # the WAL exists while a connection is open
    try:
        assert [f.name for f in files] == ["pipeline.db", "pipeline.db-shm", "pipeline.db-wal"]
        for f in files:
            assert _mode(f) == 0o600, f.name
    finally:
        ws.close()


@pytest.fixture
def loaded_ws(workspace, tmp_path, cli):
    cli("consent", "import", write_csv(tmp_path / "register.csv", [HEADER, *ROWS]), workspace=workspace, expect=0)
    return workspace


def test_init_again_keeps_configuration_and_data(loaded_ws, cli):
    cfg = loaded_ws / "pipeline.toml"
    cfg.write_text('[channels]\nnames = ["website", "prospectus"]\n', encoding="utf-8")
    cli("init", loaded_ws, expect=0)
    assert "prospectus" in cfg.read_text(encoding="utf-8")
    assert (loaded_ws / "approved" / "prospectus").is_dir()
    listed = json.loads(cli("consent", "list", "--json", workspace=loaded_ws, expect=0).stdout)
    assert len(listed) == 4 and set(listed[0]["consents"]) == {"website", "prospectus"}


# ---------------------------------------------------------------- migrations

def test_migrations_are_recorded_once(workspace):
    db = workspace / "pipeline.db"
    conn = open_db(db)
    first = [tuple(r) for r in conn.execute("SELECT component, version, applied_at FROM schema_migrations ORDER BY 1, 2")]
    conn.close()
    assert [(c, v) for c, v, _ in first] == (
        [("consent", i + 1) for i in range(len(consent_schema.MIGRATIONS))]
        + [("consent.privacy", i + 1) for i in range(len(consent_privacy_schema.MIGRATIONS))]
        + [("identification", i + 1) for i in range(len(identification_store.MIGRATIONS))]
        + [("pipeline", i + 1) for i in range(len(pipeline_schema.MIGRATIONS))]
        + [("pipeline.privacy", i + 1) for i in range(len(pipeline_privacy_schema.MIGRATIONS))])
    conn = open_db(db)  # opening again applies nothing
    again = [tuple(r) for r in conn.execute("SELECT component, version, applied_at FROM schema_migrations ORDER BY 1, 2")]
    conn.close()
    assert again == first


def test_a_new_migration_is_applied_to_an_existing_database(tmp_path):
    conn = database.connect(tmp_path / "t.db")
    v1 = "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT);"
    database.migrate(conn, "demo", [v1])
    conn.execute("INSERT INTO things(name) VALUES ('kept')")
    database.migrate(conn, "demo", [v1, "ALTER TABLE things ADD COLUMN colour TEXT;"])
    assert [tuple(r) for r in conn.execute("SELECT name, colour FROM things")] == [("kept", None)]
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations WHERE component='demo'")]
    assert versions == [1, 2]


def test_a_failing_migration_changes_nothing(tmp_path):
    conn = database.connect(tmp_path / "t.db")
    database.migrate(conn, "demo", ["CREATE TABLE a (x);"])
    bad = "CREATE TABLE b (y);\nINSERT INTO missing_table VALUES (1);"
    with pytest.raises(sqlite3.OperationalError):
        database.migrate(conn, "demo", ["CREATE TABLE a (x);", bad])
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "b" not in tables and "a" in tables
    assert [r[0] for r in conn.execute("SELECT version FROM schema_migrations WHERE component='demo'")] == [1]


# ---------------------------------------------------------------- which workspace

def _count(result) -> int:
    assert result.returncode == 0, result.stderr
    return len(json.loads(result.stdout))


def test_workspace_from_option_environment_or_current_folder(loaded_ws, workspace, tmp_path, cli):
    empty = tmp_path / "other"
    cli("init", empty, expect=0)
    # option before the command, option on the command, $PIPELINE_WORKSPACE, current folder
    assert _count(run_pipeline("--workspace", loaded_ws, "consent", "list", "--json")) == 4
    assert _count(run_pipeline("consent", "list", "--json", "--workspace", loaded_ws)) == 4
    assert _count(run_pipeline("consent", "list", "--json", env={"PIPELINE_WORKSPACE": str(loaded_ws)},
                               cwd=tmp_path)) == 4
    assert _count(run_pipeline("consent", "list", "--json", cwd=loaded_ws,
                               env={"PIPELINE_WORKSPACE": ""})) == 4
    # an explicit option wins over the environment
    assert _count(run_pipeline("consent", "list", "--json", "--workspace", empty,
                               env={"PIPELINE_WORKSPACE": str(loaded_ws)})) == 0


def test_missing_workspace_is_a_plain_error(tmp_path):
    r = run_pipeline("--workspace", tmp_path / "nowhere", "consent", "list")
    assert r.returncode == 2
    assert r.stderr.startswith("Error: ") and "is not a pipeline workspace" in r.stderr
    assert "pipeline init" in r.stderr and "Traceback" not in r.stderr
    r = run_pipeline("consent", "list", cwd=tmp_path, env={"PIPELINE_WORKSPACE": ""})
    assert r.returncode == 2 and "is not a pipeline workspace" in r.stderr and "Traceback" not in r.stderr


# ---------------------------------------------------------------- configuration errors

@pytest.mark.parametrize("toml, named", [
    ('[faces]\nmatch_tolerance = "high"\n', "[faces] match_tolerance must be a float"),
    ('[faces]\nunknown = "ignore"\n', "[faces] unknown = 'ignore' is not one of blur, review, block"),
    ('[faces]\nmatch_tolerance = 0.7\nreview_tolerance = 0.6\n', "match_tolerance <= review_tolerance"),
    ('[faces]\nmatch_tolerence = 0.5\n', "unknown key 'match_tolerence' in [faces]"),
    ('[colours]\nred = 1\n', "unknown section [colours]"),
    ('[faces\nmatch_tolerance = 0.5\n', "is not valid TOML"),
    ('[channels]\nnames = ["Web Site"]\n', "[channels] names must be a non-empty list of lower-case words"),
])
def test_configuration_errors_name_the_key(workspace, cli, toml, named):
    (workspace / "pipeline.toml").write_text(toml, encoding="utf-8")
    r = cli("consent", "list", workspace=workspace, expect=2)
    assert r.stderr.startswith("Error: ") and named in r.stderr, r.stderr
    assert "pipeline.toml" in r.stderr


def test_configuration_error_in_a_subprocess_has_no_traceback(workspace):
    (workspace / "pipeline.toml").write_text("[output]\nmax_edge = 10\n", encoding="utf-8")
    r = run_pipeline("--workspace", workspace, "consent", "list")
    assert r.returncode == 2
    assert "[output] max_edge must be at least 64" in r.stderr and "Traceback" not in r.stderr


def test_open_workspace_reads_configured_channels(workspace):
    (workspace / "pipeline.toml").write_text('[channels]\nnames = ["website"]\n', encoding="utf-8")
    ws = open_workspace(workspace)
    assert ws.config.channels == ["website"] and ws.config["faces"]["match_tolerance"] == 0.5
    ws.close()
