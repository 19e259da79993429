"""Shared set-up for the console tests: the review template workspace with one account per role,
a Flask test client that signs in, and `pipeline serve` started for real in a subprocess."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.review_helpers import fresh_copy, invoke, template_workspace

ROLES = ("admin", "safeguarding", "office", "comms", "staff")
PASSWORD = "correct horse battery staple"
BASE = "http://127.0.0.1:8765"


def user_for(role: str) -> str:
    return f"{role}1"


_templates: dict[str, Path] = {}


def console_workspace(tmp_path_factory, tmp_path) -> Path:
    """A private copy of the processed review workspace (one photo held) with one account per role."""
    key = str(tmp_path_factory.getbasetemp())
    if key not in _templates:
        base = tmp_path_factory.mktemp("console_template")
        template = fresh_copy(template_workspace(tmp_path_factory), base)
        from console.accounts import add_user
        from pipeline.workspace import open_workspace

        w = open_workspace(template)
        try:
            for role in ROLES:
                add_user(w.db, user_for(role), role, PASSWORD, actor="test set-up")
            w.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            w.close()
        _templates[key] = template
    return fresh_copy(_templates[key], tmp_path)


def token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def make_client(ws: Path, *, secure: bool = False, base: str = BASE):
    from console.app import create_app

    app = create_app(ws, secure_cookies=secure)
    client = app.test_client()
    client.base = base
    return app, client


def sign_in(client, name: str, password: str = PASSWORD, *, base: str = BASE, environ=None):
    page = client.get("/login", base_url=base).get_data(as_text=True)
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token(page)},
                       base_url=base, environ_base=environ or {})


def signed_in(ws: Path, role: str):
    """A test client of the console for ``ws``, signed in as the account of ``role``."""
    _, client = make_client(ws)
    assert sign_in(client, user_for(role)).status_code == 303
    return client


def csrf_of(client, base: str = BASE, page: str = "/") -> str:
    html = client.get(page, base_url=base, follow_redirects=True).get_data(as_text=True)
    return token(html)


def held(root: Path) -> list[dict]:
    import json

    return json.loads(invoke(root, "review", "list", "--json").stdout)


class Server:
    """`pipeline serve` as a user runs it, in a subprocess; ``url`` once it listens."""

    def __init__(self, ws: Path, *extra: str):
        env = dict(os.environ, PIPELINE_WORKSPACE=str(ws), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "serve", "--port", "0", *extra],
                                     cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        match = re.search(r"(https?://127\.0\.0\.1:\d+/)", line)
        if not match:
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.stop()
            raise AssertionError(f"pipeline serve did not start: {line!r} {err}")
        self.url = match.group(1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def cli(root: Path, *args, input: str | None = None, expect: int | None = 0):
    """Run ``pipeline --workspace ROOT ARGS`` in-process, with ``input`` on standard input."""
    from click.testing import CliRunner

    from pipeline.cli import main

    result = CliRunner().invoke(main, ["--workspace", str(root), *map(str, args)], input=input,
                                catch_exceptions=False)
    if expect is not None:
        assert result.exit_code == expect, (args, result.exit_code, result.output)
    return result
