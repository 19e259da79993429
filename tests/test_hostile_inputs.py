"""Issue 16: every entry point survives hostile files and names.

The hostile set of the issue (tests/hostile_helpers.py: links, a symlinked folder, a FIFO, /dev/zero,
non-UTF-8, newline and escape-code names, 251-255-byte names, an XMP packet of 15 MB after the
end-of-image marker, a 1 GB sparse caption of NULs, empty and truncated files, names that start a
spreadsheet formula) is replayed through process, audit (every format), consent import, enrol, pull
and watch. Every command, in its own process: no traceback on any stream, within 60 s and 1 GB of
peak memory, every input accounted for, the audit exits 1 when something was not checked, and no
CSV cell can start a formula.
"""
from __future__ import annotations

import csv
import io
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.hostile_helpers import (formula_cells, long_name, make_hostile_tree, run_cli, small_jpeg,
                                   write_xmp_bomb)

REGISTER = (
    "person_id,given_name,family_name,group,role,website,social,newsletter,press,expires,never_publish,biometric\n"
    "P001,Amelia,Hart,Y4,pupil,yes,no,yes,no,,no,yes\n"
    'P002,=HYPERLINK("http://evil.example/?x"),Adams,Y4,pupil,no,no,no,no,,no,yes\n'
    "P003,@SUM(1+1),+Cmd,Y5,pupil,yes,yes,yes,yes,,no,yes\n"
    "P004,-Minus,\tTab,Y5,pupil,yes,yes,yes,yes,,no,yes\n"
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    ws = tmp / "ws"
    run_cli(["init", ws], tmp=tmp)
    (tmp / "register.csv").write_text(REGISTER, encoding="utf-8")
    r = run_cli(["--workspace", ws, "consent", "import", tmp / "register.csv"], tmp=tmp)
    assert r.returncode == 0, r.stderr
    tree = tmp / "archive"
    made = make_hostile_tree(tree, tmp / "outside")
    return tmp, ws, tree, made


def _no_tracebacks_and_one_sentence(run):
    errors = [line for line in run.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) <= 1, run.stderr


# --------------------------------------------------------------------------- process

def test_process_accounts_for_every_hostile_input(hostile):
    tmp, ws, tree, made = hostile
    r = run_cli(["--workspace", ws, "process", tree, "/dev/zero", "--json", "--workers", "1"], tmp=tmp)
    assert r.returncode == 1, r.stderr        # some inputs were rejected: exit 1, not a crash
    records = r.records()
    inputs = [n for n in made if not n.endswith(b".txt")]          # sidecars travel with their photo
    assert len(records) == len(inputs) + 1, [x["source"] for x in records]   # + /dev/zero
    by_source = {rec["source"]: rec for rec in records}
    assert len(by_source) == len(records), "each input is recorded once"
    for rec in records:
        assert rec["status"] in ("released", "review", "blocked", "rejected") and rec["reason"]
        assert "\n" not in rec["source"] and "\x1b" not in rec["source"]
    assert by_source["/dev/zero"]["status"] == "rejected"
    assert "not a regular file" in by_source["/dev/zero"]["reason"]

    def find(fragment):
        hits = [rec for src, rec in by_source.items() if src.endswith("/" + fragment)]
        assert len(hits) == 1, (fragment, list(by_source))
        return hits[0]

    assert find("pipe.jpg")["status"] == "rejected" and "not a regular file" in find("pipe.jpg")["reason"]
    assert find("link.jpg")["status"] == "rejected" and "symbolic link" in find("link.jpg")["reason"]
    assert find("linked folder")["status"] == "rejected"
    assert find("caf\\xe9.jpg")["status"] == "released"       # processed, shown with its byte escaped
    assert find("new\\nline.jpg")["status"] == "released"
    assert find("empty.jpg")["status"] == "rejected" and find("truncated.jpg")["status"] == "rejected"
    for n in (251, 253, 255):
        assert find(os.fsdecode(long_name(n)))["status"] == "released"
    # the 255-byte photo's caption was found under <stem>.txt; <name>.txt was never built
    assert "Sports day" in json.dumps(find(os.fsdecode(long_name(255)))["captions"])
    # the 1 GB sparse caption of NULs released no caption at all: refused, the photo held for review (issue 14)
    nul = find("nul.jpg")
    assert nul["status"] == "review" and "caption file" in nul["reason"] and not any(nul["captions"].values())
    # the 15 MB XMP packet was not parsed: recorded, cheaply
    xmp = find("xmp15.jpg")
    assert xmp["status"] == "released" and "metadata_not_read" in xmp["metadata_found"]
    # quarantined pipe and link kept privately
    for q in (ws / "quarantine").iterdir():
        st = os.lstat(q)
        if not stat.S_ISLNK(st.st_mode):
            assert stat.S_IMODE(st.st_mode) == 0o600, q


def test_process_output_is_plain_text(hostile):
    tmp, ws, tree, made = hostile
    r = run_cli(["--workspace", ws, "process", os.path.join(os.fsencode(tree), b"new\nline.jpg"),
                 os.path.join(os.fsencode(tree), b"\x1b[31mred.jpg"), "--workers", "1"], tmp=tmp)
    assert r.returncode in (0, 1)
    assert "\x1b" not in r.stderr and "new\\nline.jpg" in r.stderr.replace("\n", "")


# --------------------------------------------------------------------------- audit

@pytest.mark.parametrize("fmt", ["table", "json", "csv", "html"])
def test_audit_every_format(hostile, fmt):
    tmp, ws, tree, made = hostile
    out = tmp / f"audit.{fmt}"
    args = ["--workspace", ws, "audit", tree, "--format", fmt, "--workers", "1"]
    # formula-looking file names named directly, so they start the path cell
    cwd_args = ["=1+1.jpg", "@SUM(1).jpg", "-2+3.jpg"]
    r = run_cli(args + ["--output", out], tmp=tmp)
    assert r.returncode == 1, r.stderr          # links and the pipe were not checked
    text = out.read_text(encoding="utf-8")
    assert "\x1b" not in text
    if fmt == "json":
        records = [json.loads(line) for line in text.splitlines()]
        paths = {rec["path"] for rec in records}
        assert len(records) == len(made), sorted(paths)      # every entry, sidecars and links included
        for name in (b"link.jpg", b"linked folder", b"pipe.jpg"):
            rec = next(x for x in records if x["path"].endswith(os.fsdecode(name)))
            assert rec["ok"] is False and {f["kind"] for f in rec["findings"]} == {"not_checked"}
        assert any(p.endswith("caf\\xe9.jpg") for p in paths)
        xmp = next(x for x in records if x["path"].endswith("xmp15.jpg"))
        assert "not_checked" in {f["kind"] for f in xmp["findings"]}
    if fmt == "csv":
        assert not formula_cells(text)
        rows = list(csv.DictReader(io.StringIO(text)))
        assert {"not_checked"} <= {row["kind"] for row in rows}
        r2 = run_cli(["--workspace", ws, "audit", "--format", "csv", "--workers", "1", "--", *cwd_args], tmp=tmp,
                     cwd=tree)
        assert r2.returncode == 0 and not formula_cells(r2.stdout)   # clean files, names shown as text
        assert "'=1+1.jpg" in r2.stdout           # shown as text, not run as a formula
    if fmt == "html":
        assert "caf\\xe9.jpg" in text and "not_checked" in text or "Not checked" in text


def test_audit_table_on_the_terminal_and_follow_links(hostile):
    tmp, ws, tree, made = hostile
    r = run_cli(["--workspace", ws, "audit", tree, "--workers", "1"], tmp=tmp)
    assert r.returncode == 1 and "could not be checked" in (r.stdout + r.stderr)
    r = run_cli(["--workspace", ws, "audit", tree, "--format", "json", "--follow-links", "--workers", "1"], tmp=tmp)
    records = [json.loads(line) for line in r.stdout.splitlines()]
    paths = {rec["path"] for rec in records}
    # followed: the linked photo and the photo inside the linked folder were checked
    assert any(p.endswith("linked folder/inside.jpg") for p in paths)
    link = next(x for x in records if x["path"].endswith("link.jpg"))
    assert link["checked"] is True and "not_checked" not in {f["kind"] for f in link["findings"]}
    assert r.returncode == 1   # the pipe is still not checked


def test_audit_of_a_register_name_that_is_a_formula(hostile):
    """A register person whose name starts a formula, named in a file name, is reported as text."""
    tmp, ws, tree, made = hostile
    folder = tmp / "formula_names"
    folder.mkdir()
    (folder / "Amelia Hart at sports day.jpg").write_bytes(small_jpeg())
    r = run_cli(["--workspace", ws, "audit", folder, "--format", "csv", "--workers", "1"], tmp=tmp)
    assert r.returncode == 1
    assert "full_name_in_filename" in r.stdout and not formula_cells(r.stdout)


# --------------------------------------------------------------------------- consent import

def test_consent_import_refuses_hostile_registers_in_one_sentence(hostile):
    tmp, ws, tree, made = hostile
    big = tmp / "big.csv"
    with open(big, "wb") as fh:
        fh.write(REGISTER.encode())
        fh.truncate(25 * 1024 * 1024)          # sparse: 25 MB, over the 20 MB default
    fifo = tmp / "register_pipe.csv"
    os.mkfifo(fifo)
    link = tmp / "register_link.csv"
    os.symlink(tmp / "register.csv", link)
    for target, words in ((big, "larger than 20 MB"), (fifo, "not a regular file"), ("/dev/zero", "not a regular file"),
                          (link, "symbolic link"), (tmp / "missing.csv", "does not exist")):
        r = run_cli(["--workspace", ws, "consent", "import", target], tmp=tmp)
        assert r.returncode == 2, (target, r.stderr)
        assert words in r.stderr and r.stderr.count("Error:") == 1, r.stderr
    # a register under a non-UTF-8 name imports, and its name is shown escaped
    odd = os.path.join(os.fsencode(tmp), b"regi\xe9ster.csv")
    with open(odd, "wb") as fh:
        fh.write(REGISTER.encode())
    r = run_cli(["--workspace", ws, "consent", "import", odd], tmp=tmp)
    assert r.returncode == 0 and "regi\\xe9ster.csv" in r.stdout


def test_register_cap_is_configurable(hostile, tmp_path):
    tmp, ws, tree, made = hostile
    small_ws = tmp_path / "ws"
    run_cli(["init", small_ws], tmp=tmp_path)
    with open(small_ws / "pipeline.toml", "a") as fh:
        fh.write("")
    text = (small_ws / "pipeline.toml").read_text().replace("max_register_mb = 20", "max_register_mb = 0.0001")
    (small_ws / "pipeline.toml").write_text(text)
    r = run_cli(["--workspace", small_ws, "consent", "import", tmp / "register.csv"], tmp=tmp_path)
    assert r.returncode == 2 and "max_register_mb" in r.stderr


# --------------------------------------------------------------------------- enrol

def test_enrol_accounts_for_every_hostile_file(hostile):
    tmp, ws, tree, made = hostile
    ref = tmp / "reference"
    ref.mkdir()
    b = os.fsencode(ref)
    names = [b"P001.jpg", b"P001_caf\xe9.jpg", b"P001_" + b"n" * 246 + b".jpg"]
    for n in names:
        with open(os.path.join(b, n), "wb") as fh:
            fh.write(small_jpeg())
    os.mkfifo(os.path.join(b, b"P001_pipe.jpg"))
    os.symlink(tmp / "outside" / "target.jpg", os.path.join(b, b"P001_link.jpg"))
    os.symlink(tmp / "outside" / "folder", os.path.join(b, b"P003"))
    (ref / "P004").mkdir()
    os.mkfifo(ref / "P004" / "pipe.jpg")
    os.symlink(tmp / "outside" / "target.jpg", ref / "P004" / "link.jpg")
    r = run_cli(["--workspace", ws, "consent", "enrol", ref, "--json"], tmp=tmp)
    assert r.returncode == 1, r.stderr    # refused files: exit 1
    report = json.loads(r.stdout)
    files = [x["file"] for x in report["enrolled"] + report["already_enrolled"] + report["refused"]]
    assert len(files) == 8, files
    reasons = {x["file"]: x["reason"] for x in report["refused"]}
    assert "not a regular file" in reasons["P001_pipe.jpg"] and "symbolic link" in reasons["P001_link.jpg"]
    assert "symbolic link" in reasons["P003"] and "not a regular file" in reasons["P004/pipe.jpg"]
    assert "P001_caf\\xe9.jpg" in reasons            # read (no face in a plain picture), shown escaped
    for not_a_folder in ("/dev/zero", ref / "P001_pipe.jpg"):
        r = run_cli(["--workspace", ws, "consent", "enrol", not_a_folder], tmp=tmp)
        assert r.returncode == 2 and "is not a folder" in r.stderr and r.stderr.count("Error:") == 1


# --------------------------------------------------------------------------- pull

def _read_only_folder(tmp: Path) -> Path | None:
    ro = tmp / "readonly"
    ro.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)],
                          capture_output=True).returncode != 0:
            return None
        return ro
    os.chmod(ro, 0o500)
    return ro


def test_pull_failures_are_one_sentence(hostile):
    tmp, ws, tree, made = hostile
    r = run_cli(["--workspace", ws, "pull", "--done", "1"], tmp=tmp)
    assert r.returncode == 2 and "--takedowns" in r.stderr and r.stderr.count("Error:") == 1
    ro = _read_only_folder(tmp)
    if ro is None:
        pytest.skip("cannot make a read-only folder here")
    try:
        r = run_cli(["--workspace", ws, "pull", "--channel", "website", "--to", ro], tmp=tmp)
        assert r.returncode == 2, r.stderr
        assert f"cannot write to {ro}:" in r.stderr and r.stderr.count("Error:") == 1
        assert "read-only file system" in r.stderr or "permission denied" in r.stderr
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(ro)], capture_output=True)
        else:
            os.chmod(ro, 0o700)


# --------------------------------------------------------------------------- watch

def test_watch_once_with_hostile_inbox_and_beside_a_running_watcher(tmp_path):
    ws = tmp_path / "ws"
    run_cli(["init", ws], tmp=tmp_path)
    with open(ws / "pipeline.toml", "a") as fh:
        pass
    text = (ws / "pipeline.toml").read_text().replace("stable_seconds = 2.0", "stable_seconds = 0.2")
    text = text.replace("workers = 0", "workers = 1")
    (ws / "pipeline.toml").write_text(text)
    inbox = os.fsencode(ws / "inbox" / "anna")
    os.makedirs(inbox)
    with open(os.path.join(inbox, long_name(255)), "wb") as fh:
        fh.write(small_jpeg())
    with open(os.path.join(inbox, b"caf\xe9.jpg"), "wb") as fh:
        fh.write(small_jpeg((9, 9, 9)))
    os.mkfifo(os.path.join(inbox, b"pipe.jpg"))
    r = run_cli(["--workspace", ws, "watch", "--once", "--json"], tmp=tmp_path)
    assert r.returncode == 1, r.stderr         # the pipe was rejected
    records = r.records()
    assert len(records) == 3, r.stdout
    assert any(rec["source"].endswith("anna/caf\\xe9.jpg") and rec["status"] == "released" for rec in records)
    assert os.listdir(inbox) == []               # nothing left in the inbox for ever
    for q in os.listdir(ws / "quarantine"):
        st = os.lstat(os.path.join(ws / "quarantine", q))
        assert stat.S_IMODE(st.st_mode) == 0o600, q
    # a second watcher beside a running one: says so, exit 0 (cron mails nothing)
    from watch_folders.locks import WatchLock

    lock = WatchLock(ws)
    lock.acquire()
    try:
        r = run_cli(["--workspace", ws, "watch", "--once"], tmp=tmp_path)
        assert r.returncode == 0 and "already running" in r.stderr
        r = run_cli(["--workspace", ws, "recover"], tmp=tmp_path)
        assert r.returncode == 0 and "already running" in r.stderr
    finally:
        lock.release()
    r = run_cli(["--workspace", ws, "recover", "--json"], tmp=tmp_path)
    assert r.returncode == 0 and r.records() == []


# --------------------------------------------------------------------------- the 189 MB XMP file

@pytest.mark.slow
def test_189_mb_of_xmp_packets_costs_seconds_not_minutes(tmp_path):
    """The issue's file: 189 MB, 12 XMP packets after the image, under the 200 MB limit."""
    ws = tmp_path / "ws"
    run_cli(["init", ws], tmp=tmp_path)
    bomb = tmp_path / "in" / "bomb.jpg"
    bomb.parent.mkdir()
    write_xmp_bomb(bomb, 189, 12)
    r = run_cli(["--workspace", ws, "process", bomb.parent, "--json", "--workers", "1"], tmp=tmp_path)
    rec = r.records()[0]
    assert rec["status"] == "released" and "metadata_not_read" in rec["metadata_found"]
    r = run_cli(["--workspace", ws, "audit", bomb.parent, "--format", "json", "--workers", "1"], tmp=tmp_path)
    assert r.returncode == 1 and "not_checked" in r.stdout


# --------------------------------------------------------------------------- memory per worker

# README "Hostile inputs": a worker's peak is about max(DETECTOR_MB, BASELINE_MB + PIXEL_MULTIPLE x the
# pixel budget), the pixel budget being max_megapixels x 3 bytes. The face detector works at <= 3 MP
# whatever the photo's size, so its working memory is a constant; only decoding grows with the pixels.
DETECTOR_MB = 650        # measured 0.52-0.54 GB: face and text models loaded, a 3 MP detection (any photo >= 3 MP)
BASELINE_MB = 250        # 0.15 GB measured before text reading, plus ~0.1 GB for its models
PIXEL_MULTIPLE = 2.2     # measured at 100 MP: HEIC 0.80 GB, RGBA PNG 0.61 GB, RGB PNG 0.53 GB, JPEG 0.47 GB


def test_peak_memory_stays_within_the_stated_multiple_of_the_pixel_budget(tmp_path):
    """With [limits] max_megapixels = 24, photos at the limit in the formats that cost the most
    (an RGBA PNG, a HEIC) peak below the README's bound (measured 0.52 and 0.54 GB with text reading)."""
    from PIL import Image

    ws = tmp_path / "ws"
    run_cli(["init", ws], tmp=tmp_path)
    text = (ws / "pipeline.toml").read_text().replace("max_megapixels = 100", "max_megapixels = 24")
    (ws / "pipeline.toml").write_text(text)
    folder = tmp_path / "big"
    folder.mkdir()
    Image.new("RGBA", (6000, 4000), (10, 20, 30, 128)).save(folder / "rgba.png")
    import pillow_heif

    pillow_heif.register_heif_opener()
    Image.new("RGB", (6000, 4000), (50, 100, 200)).save(folder / "big.heic", quality=50)
    bound = max(DETECTOR_MB, BASELINE_MB + PIXEL_MULTIPLE * 24 * 3)
    for name in ("rgba.png", "big.heic"):
        r = run_cli(["--workspace", ws, "process", folder / name, "--json", "--workers", "1"], tmp=tmp_path)
        assert r.records()[0]["status"] == "released", r.stdout
        assert r.peak_mb < bound, (name, r.peak_mb, bound)


def test_an_internal_error_is_named_but_its_text_never_reaches_the_reason(tmp_path, cli, monkeypatch):
    # An error's text can carry pixel data or paths (dlib printed a whole frame); staff and comms see
    # the reason, so it names the kind of error only and the photo is rejected, never released.
    from PIL import Image

    import pipeline.analyse
    from tests.conftest import json_lines

    def broken(*_args, **_kwargs):
        raise TypeError("incompatible arguments: array([[[12, 34, 56], ...]]) /home/office/secret.jpg")

    monkeypatch.setattr(pipeline.analyse, "detect", broken)
    photo = tmp_path / "p.jpg"
    Image.new("RGB", (64, 48), (120, 80, 40)).save(photo)
    ws = tmp_path / "ws"
    cli("init", ws, expect=0)
    rec = json_lines(cli("process", photo, "--json", "--workers", 1, workspace=ws).stdout)[0]
    assert rec["status"] == "rejected"
    assert "TypeError" in rec["reason"] and "quarantine" in rec["reason"]
    assert "array(" not in rec["reason"] and "secret" not in rec["reason"]
