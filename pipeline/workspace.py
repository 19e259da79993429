"""The workspace folder of DESIGN.md: paths, configuration and the database."""
from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from consent import database
from consent import privacy_schema as consent_privacy_schema
from consent import schema as consent_schema
from pipeline import privacy_schema as pipeline_privacy_schema
from consent.identification import store as identification_store
from pipeline import schema as pipeline_schema
from pipeline.config import Config, default_text, load_config

SUBDIRS = ("inbox", "approved", "review", "quarantine", "originals")
PRIVATE_DIRS = ("originals", "quarantine", "review")


class WorkspaceError(Exception):
    """The workspace is missing or unusable; the message says what to do."""


@dataclass
class Workspace:
    root: Path
    config: Config
    _conn: sqlite3.Connection | None = field(default=None, repr=False)

    @property
    def db_path(self) -> Path:
        return self.root / "pipeline.db"

    def path(self, name: str) -> Path:
        return self.root / name

    def approved(self, channel: str) -> Path:
        return self.root / "approved" / channel

    def rel(self, p: Path) -> str:
        try:
            return str(Path(p).resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(p)

    @property
    def db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = open_db(self.db_path)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def open_db(path: Path) -> sqlite3.Connection:
    conn = database.connect(path)
    database.migrate(conn, "consent", consent_schema.MIGRATIONS)
    database.migrate(conn, "pipeline", pipeline_schema.MIGRATIONS)
    database.migrate(conn, consent_privacy_schema.COMPONENT, consent_privacy_schema.MIGRATIONS)
    database.migrate(conn, pipeline_privacy_schema.COMPONENT, pipeline_privacy_schema.MIGRATIONS)
    database.migrate(conn, "identification", identification_store.MIGRATIONS)
    return conn


def init_workspace(root: Path) -> Workspace:
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for sub in SUBDIRS:
        (root / sub).mkdir(exist_ok=True)
    for sub in PRIVATE_DIRS:
        os.chmod(root / sub, 0o700)
    cfg = root / "pipeline.toml"
    if not cfg.exists():
        cfg.write_text(default_text(), encoding="utf-8")
    ws = Workspace(root=root, config=load_config(cfg))
    for channel in ws.config.channels:
        ws.approved(channel).mkdir(parents=True, exist_ok=True)
    ws.db  # creates and migrates pipeline.db (0600)
    return ws


def open_workspace(root: Path | str | None) -> Workspace:
    root = Path(root or os.environ.get("PIPELINE_WORKSPACE") or ".")
    if not (root / "pipeline.toml").is_file() or not (root / "pipeline.db").is_file():
        raise WorkspaceError(
            f"{root.resolve()} is not a pipeline workspace (no pipeline.toml / pipeline.db). "
            f"Create one with 'pipeline init {root}', or point to yours with --workspace DIR "
            "or the PIPELINE_WORKSPACE environment variable."
        )
    ws = Workspace(root=root, config=load_config(root / "pipeline.toml"))
    for channel in ws.config.channels:
        ws.approved(channel).mkdir(parents=True, exist_ok=True)
    return ws
