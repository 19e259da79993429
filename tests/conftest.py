"""Shared test helpers: the fixtures folder, fresh workspaces, running the real CLI."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = (ROOT.parent / "shared" / "fixtures").resolve()
PIPELINE = [sys.executable, "-m", "pipeline.cli"]


def pytest_addoption(parser):
    parser.addoption("--full", action="store_true", default=False,
                     help="also run the tests marked slow (CI runs a representative part without them)")


def pytest_collection_modifyitems(config, items):
    """Tests marked ``slow`` run with ``--full`` (or CONSENT_PIPELINE_FULL_TESTS=1); CI and a plain
    ``scripts/test`` run the representative rest, so the suite stays well under 20 minutes."""
    if config.getoption("--full") or os.environ.get("CONSENT_PIPELINE_FULL_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run `scripts/test --full` for the whole suite")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def fixtures_dir(*parts: str) -> Path:
    """A folder of ../shared/fixtures, or skip the test with a clear message."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs the shared test photos at {path} (clone the project next to ../shared)")
    return path


def import_face_recognition():
    """The face_recognition library, as an independent recogniser for tests.

    Importing it sets Pillow's global ``ImageFile.LOAD_TRUNCATED_IMAGES = True`` (face_recognition/api.py),
    which would make every later decode in this test process accept truncated files and hide the
    product's own truncation checks; the flag is put back as it was.
    """
    from PIL import ImageFile

    from processors.dlib_models import ensure_pkg_resources

    before = ImageFile.LOAD_TRUNCATED_IMAGES
    ensure_pkg_resources()
    import face_recognition

    ImageFile.LOAD_TRUNCATED_IMAGES = before
    return face_recognition


def exiftool() -> str:
    path = shutil.which("exiftool")
    if not path:
        pytest.skip("needs exiftool (Debian package libimage-exiftool-perl; scripts/setup installs it as root)")
    return path


@pytest.fixture
def workspace(tmp_path):
    from pipeline.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws")
    ws.close()
    return tmp_path / "ws"


@pytest.fixture
def cli():
    """Run the real click command in-process: cli('consent', 'list', '--json', workspace=ws)."""
    runner = CliRunner()

    def run(*args, workspace=None, input=None, expect=None):
        argv = [str(a) for a in args]
        if workspace is not None:
            argv = ["--workspace", str(workspace), *argv]
        from pipeline.cli import main

        result = runner.invoke(main, argv, input=input, catch_exceptions=False)
        if expect is not None:
            assert result.exit_code == expect, (result.exit_code, result.output)
        return result

    return run


def run_pipeline(*args, cwd=None, env=None, timeout=600) -> subprocess.CompletedProcess:
    """Run `pipeline` in a subprocess exactly as a user would."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([*PIPELINE, *map(str, args)], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]
