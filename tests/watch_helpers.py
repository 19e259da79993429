"""Helpers for the watcher, pull and purge tests: workspaces tuned for speed, realistic drops, the counts."""
from __future__ import annotations

import io
import os
import re
import shutil
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import PIPELINE

REPO = Path(__file__).resolve().parents[1]


def make_workspace(root: Path, *, stable: float = 0.3, workers: int = 2, mode: str = "native",
                   poll: float = 0.3, extra: dict[str, dict[str, str]] | None = None) -> Path:
    """A fresh workspace whose pipeline.toml has the given [watch] values (and any ``extra`` keys)."""
    from pipeline.workspace import init_workspace

    init_workspace(root).close()
    cfg = root / "pipeline.toml"
    values = {"watch": {"stable_seconds": repr(float(stable)), "workers": str(workers), "mode": f'"{mode}"',
                        "poll_interval": repr(float(poll))},
              # the plain HOG detector: these tests are about files, not faces, and must stay quick
              "faces": {"detector": '"hog"'}}
    for section, kv in (extra or {}).items():
        values.setdefault(section, {}).update(kv)
    text = cfg.read_text()
    for section, kv in values.items():
        for key, value in kv.items():
            pattern = re.compile(rf"(\[{section}\][^\[]*?^{key} = )[^\n]*", re.M | re.S)
            text, n = pattern.subn(lambda m: m.group(1) + value, text)
            assert n == 1, (section, key)
    cfg.write_text(text)
    return root


def jpeg_bytes(seed: int, size=(320, 240)) -> bytes:
    """A small synthetic photo (smooth colours plus noise, no faces): unique content per seed."""
    rng = np.random.default_rng(seed)
    w, h = size
    x = np.linspace(0, 1, w)[None, :, None]
    y = np.linspace(0, 1, h)[:, None, None]
    base = (np.concatenate([x * np.ones_like(y), y * np.ones_like(x), (x + y) / 2], axis=2) * 200).astype(np.int16)
    noise = rng.integers(-40, 40, (h, w, 3))
    arr = np.clip(base + noise, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def png_bytes(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.open(io.BytesIO(jpeg_bytes(seed))).save(buf, "PNG")
    return buf.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def drop_mixed(inbox: Path, *, fixtures: Path | None = None, seed: int = 0) -> dict:
    """~50 inputs in three staff folders, as the issue describes. Returns what was dropped.

    ``inputs``: the inbox-relative sources that must each end in originals/ or quarantine/;
    ``bad``: those that must be rejected; ``ignored``: files that must stay (temporary/hidden).
    """
    inputs, bad, ignored, captions = [], [], [], []
    k = seed * 1000

    def add(rel: str, data: bytes, *, rejected=False):
        write(inbox / rel, data)
        inputs.append(f"inbox/{rel}")
        if rejected:
            bad.append(f"inbox/{rel}")

    for i in range(12):
        add(f"anna/IMG_{i:04d}.jpg", jpeg_bytes(k + i))
        if i == 0:  # captions are copied together with their photos
            write(inbox / "anna/IMG_0000.txt", b"Relay team at sports day")
        if i == 1:
            write(inbox / "anna/IMG_0001.jpg.txt", b"Egg and spoon race")
    for i in range(10):
        add(f"ben/DSC{i:05d}.JPG", jpeg_bytes(k + 100 + i))
    for i in range(8):
        add(f"cara/photo {i}.jpg", jpeg_bytes(k + 200 + i))
    for i in range(4):  # a folder dropped whole, two levels deep
        add(f"cara/Sports Day/heats/run {i}.jpg", jpeg_bytes(k + 300 + i))
    add("cara/Sports Day/finish.png", png_bytes(k + 400))
    # captions (above): both sidecar forms travel with their photo and are not inputs of their own
    captions += ["inbox/anna/IMG_0000.txt", "inbox/anna/IMG_0001.jpg.txt"]
    # the same content dropped twice
    add("ben/copy of DSC00000.JPG", jpeg_bytes(k + 100))
    # odd names
    add("anna/" + "l" * 196 + ".jpg", jpeg_bytes(k + 500))
    add("ben/new\nline.jpg", jpeg_bytes(k + 501))
    add("cara/Ünïcødé 😀 photo ‮gpj.jpg", jpeg_bytes(k + 502))
    # hostile and broken inputs
    add("anna/empty.jpg", b"", rejected=True)
    good = jpeg_bytes(k + 600, size=(640, 480))
    add("ben/truncated.jpg", good[: len(good) // 2], rejected=True)
    add("cara/minutes.docx", os.urandom(3000), rejected=True)
    add("cara/notes.txt", b"a lone text file, no photo of that name", rejected=True)
    os.symlink("/etc/passwd", inbox / "ben" / "passwd.jpg")
    inputs.append("inbox/ben/passwd.jpg")
    bad.append("inbox/ben/passwd.jpg")
    os.symlink("/etc", inbox / "anna" / "etc-folder")
    inputs.append("inbox/anna/etc-folder")
    bad.append("inbox/anna/etc-folder")
    if fixtures is not None:
        for name in ("obama1.jpg", "two_people.jpg"):
            add(f"ben/{name}", (fixtures / name).read_bytes())
    # ignored until renamed
    for rel in ("anna/.DS_Store", "ben/Thumbs.db", "cara/IMG_9999.jpg.part", "cara/~$report.docx"):
        write(inbox / rel, b"ignored")
        ignored.append(f"inbox/{rel}")
    return {"inputs": inputs, "bad": bad, "ignored": ignored, "captions": captions}


def quarantined_inputs(root: Path) -> list[Path]:
    return [p for p in (root / "quarantine").iterdir()
            if not p.name.endswith((".reason.txt", ".caption.txt")) and not p.name.startswith(".")]


def kept_originals(root: Path) -> list[Path]:
    return [p for p in (root / "originals").iterdir() if not p.name.endswith(".caption.txt")]


def inbox_leftovers(root: Path) -> list[str]:
    """Files (and links) still in the inbox, relative to the workspace."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root / "inbox"):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p.is_symlink() or p.is_file():
                out.append(os.path.relpath(p, root))
    return sorted(out)


def jobs(root: Path) -> list[sqlite3.Row]:
    conn = sqlite3.connect(root / "pipeline.db")
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("SELECT * FROM jobs ORDER BY id").fetchall()
    finally:
        conn.close()


def done_count(root: Path) -> int:
    conn = sqlite3.connect(root / "pipeline.db", timeout=30)
    try:
        return conn.execute("SELECT count(*) FROM jobs WHERE state='done'").fetchone()[0]
    finally:
        conn.close()


def assert_every_input_exactly_once(root: Path, dropped: dict) -> None:
    """The bar of the issue: every input once in originals/ or quarantine/, inbox empty, nothing partial."""
    rows = jobs(root)
    sources = Counter(r["source"] for r in rows)
    assert set(sources) == set(dropped["inputs"]), (set(sources) ^ set(dropped["inputs"]))
    assert all(n == 1 for n in sources.values()), [s for s, n in sources.items() if n > 1]
    assert all(r["state"] == "done" for r in rows), [(r["source"], r["state"]) for r in rows if r["state"] != "done"]
    kept, quarantined = kept_originals(root), quarantined_inputs(root)
    assert len(kept) + len(quarantined) == len(dropped["inputs"]), (len(kept), len(quarantined))
    for r in rows:
        place = root / r["original_path"]
        assert os.path.lexists(place), (r["source"], r["original_path"])
        assert place.parent.name == ("quarantine" if r["status"] == "rejected" else "originals"), dict(r)
    rejected = {r["source"] for r in rows if r["status"] == "rejected"}
    assert set(dropped["bad"]) <= rejected, set(dropped["bad"]) - rejected
    for q in quarantined:
        assert q.with_name(q.name + ".reason.txt").is_file(), q
    assert inbox_leftovers(root) == sorted(dropped["ignored"])
    assert_nothing_partial(root)
    # no output written twice: one image per channel per released, non-duplicate job
    released = [r for r in rows if r["status"] == "released" and not (r["reason"] or "").startswith("duplicate")]
    for channel in ("website", "social", "newsletter", "press"):
        images = sorted((root / "approved" / channel).glob("*.jpg"))
        assert len(images) == len(released), (channel, len(images), len(released))


def assert_nothing_partial(root: Path) -> None:
    for folder in (root / "approved").iterdir():
        for p in folder.iterdir():
            assert not p.name.startswith(".") and ".tmp" not in p.name, p
            if p.suffix == ".jpg":
                with Image.open(p) as im:
                    im.load()  # raises on a truncated file


def start_watcher(root: Path, log_path: Path, *extra: str) -> subprocess.Popen:
    log = open(log_path, "wb")
    proc = subprocess.Popen([*PIPELINE, "--workspace", str(root), "watch", *extra], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=log)
    log.close()
    return proc


def wait_for(condition, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def copy_fixture(src: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return dest
