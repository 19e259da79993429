"""Shared set-up for the review and propagation tests: one processed workspace, copied per test.

The template workspace has five fixture people registered and enrolled, ``[faces] unknown = "review"``,
and four event photos processed once (the slow part, ~30 s):

* obama_and_biden.jpg — held for review (a third person who is in no register);
* two_people.jpg      — released (obama kept everywhere, biden kept on website/newsletter);
* obama1.jpg          — released (obama kept everywhere);
* johnsnow_test1.jpg  — released (kit_harington kept everywhere).

Tests copy it (``fresh_copy``) so each starts from the same state.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from tests.conftest import fixtures_dir

CHANNELS = ["website", "social", "newsletter", "press"]
HEADER = "person_id,given_name,family_name,group,role,website,social,newsletter,press,expires,never_publish,biometric"
REGISTER = [
    "obama,Barack,Obama,Y6,pupil,yes,yes,yes,yes,,no,yes",
    "biden,Joe,Biden,Y6,pupil,yes,no,yes,no,,no,yes",
    "alex_lacamoire,Alex,Lacamoire,Y6,pupil,no,no,no,no,,no,yes",
    "kit_harington,Kit,Harington,Y6,pupil,yes,yes,yes,yes,,no,yes",
    "rose_leslie,Rose,Leslie,Y6,pupil,yes,yes,yes,yes,,yes,yes",
]
PHOTOS = ["obama_and_biden.jpg", "two_people.jpg", "obama1.jpg", "johnsnow_test1.jpg"]
CAPTION = "Barack Obama, Joe Biden and Kit Harington at the school fair"

_cache: dict[str, Path] = {}


def write_register(path: Path, rows=REGISTER) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def set_config(root: Path, section: str, key: str, value: str) -> None:
    """Change one key of pipeline.toml (value as TOML text)."""
    lines = (root / "pipeline.toml").read_text(encoding="utf-8").splitlines()
    out, current = [], None
    for line in lines:
        s = line.strip()
        if s.startswith("[") and s.endswith("]"):
            current = s[1:-1]
        if current == section and s.split("=")[0].strip() == key and not s.startswith("#"):
            line = f"{key} = {value}"
        out.append(line)
    (root / "pipeline.toml").write_text("\n".join(out) + "\n", encoding="utf-8")


def invoke(root: Path, *args, expect: int | None = 0):
    from click.testing import CliRunner

    from pipeline.cli import main

    result = CliRunner().invoke(main, ["--workspace", str(root), *map(str, args)], catch_exceptions=False)
    if expect is not None:
        assert result.exit_code == expect, (args, result.exit_code, result.output)
    return result


def template_workspace(tmp_path_factory) -> Path:
    """Build (once per test session) the processed workspace described above."""
    key = str(tmp_path_factory.getbasetemp())
    if key in _cache:
        return _cache[key]
    from click.testing import CliRunner

    from pipeline.cli import main

    events = fixtures_dir("faces", "events")
    enrol = fixtures_dir("faces", "enrol")
    base = tmp_path_factory.mktemp("review_template")
    root = base / "ws"
    assert CliRunner().invoke(main, ["init", str(root)]).exit_code == 0
    set_config(root, "faces", "unknown", '"review"')
    invoke(root, "consent", "import", write_register(base / "register.csv"))
    invoke(root, "consent", "enrol", enrol)
    staged = base / "photos"
    staged.mkdir()
    for name in PHOTOS:
        shutil.copy(events / name, staged / name)
    invoke(root, "process", *[staged / n for n in PHOTOS], "--caption", CAPTION)
    _cache[key] = root
    return root


def fresh_copy(template: Path, dest_parent: Path) -> Path:
    """A private copy of the template workspace (database, originals, outputs)."""
    dest = dest_parent / "ws"
    shutil.copytree(template, dest, symlinks=True)
    return dest


def job_id(root: Path, name: str) -> int:
    from pipeline.workspace import open_workspace

    ws = open_workspace(root)
    try:
        row = ws.db.execute("SELECT id FROM jobs WHERE source LIKE ? ORDER BY id", (f"%{name}",)).fetchone()
        return int(row[0])
    finally:
        ws.close()


def query(root: Path, sql: str, args=()) -> list[dict]:
    from pipeline.workspace import open_workspace

    ws = open_workspace(root)
    try:
        return [dict(r) for r in ws.db.execute(sql, args)]
    finally:
        ws.close()


def record(root: Path, job: int) -> dict:
    return json.loads(query(root, "SELECT result_json FROM jobs WHERE id=?", (job,))[0]["result_json"])


# ---------------------------------------------------------------- independent recogniser

class Recogniser:
    """face_recognition (the library, not our code) with a person's enrolled reference photos."""

    def __init__(self):
        from tests.conftest import import_face_recognition

        face_recognition = import_face_recognition()

        self.fr = face_recognition
        self._refs: dict[str, np.ndarray] = {}

    def refs(self, person: str) -> np.ndarray:
        if person not in self._refs:
            encs = []
            for f in sorted(fixtures_dir("faces", "enrol", person).iterdir()):
                img = self.fr.load_image_file(f)
                encs.extend(self.fr.face_encodings(img))
            assert encs, f"no reference encodings for {person}"
            self._refs[person] = np.array(encs)
        return self._refs[person]

    def distances(self, image_path: Path, person: str) -> list[float]:
        """For each face found in the image, its distance to the person's closest reference photo."""
        img = self.fr.load_image_file(image_path)
        locations = self.fr.face_locations(img, number_of_times_to_upsample=1)
        encs = self.fr.face_encodings(img, locations)
        return [float(self.fr.face_distance(self.refs(person), e).min()) for e in encs]

    def shows(self, image_path: Path, person: str, tolerance: float = 0.6) -> bool:
        return any(d <= tolerance for d in self.distances(image_path, person))
