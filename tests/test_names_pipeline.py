"""Captions through `pipeline process`: sidecars beside face-free photos, every channel read back from disk
by the independent reader; sidecar encodings (UTF-8, BOM, UTF-16, Windows-1252) and refused sidecars."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from processors.caption_text import SIDECAR_LIMIT, CaptionRefused, decode_caption
from tests.conftest import json_lines
from tests.names_check import DATA, full_name_in, load_register, part_in

CHANNELS = ["website", "social", "newsletter", "press"]
ROWS = load_register()
BY_ID = {r["person_id"]: r for r in ROWS}
CORPUS = json.loads((DATA / "corpus.json").read_text(encoding="utf-8"))


def face_free_photo(path: Path, seed: int) -> Path:
    """A small landscape of soft colour bands (no face), different for every seed."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, 240)[:, None, None]
    base = rng.integers(40, 200, 3)
    pixels = (base * (0.6 + 0.4 * y) + rng.integers(0, 12, (240, 320, 3))).clip(0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=90)
    return path


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    """A workspace with the corpus register, and a folder of face-free photos with caption sidecars."""
    from click.testing import CliRunner

    from pipeline.cli import main

    root = tmp_path_factory.mktemp("names") / "ws"
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(root)]).exit_code == 0
    r = runner.invoke(main, ["--workspace", str(root), "consent", "import", str(DATA / "register.csv")])
    assert r.exit_code == 0, r.output
    inbox = root.parent / "drop"
    inbox.mkdir()
    cases = {}
    sample = CORPUS["hostile"][::3] + [{"caption": h, "names": [], "expect": h} for h in CORPUS["harmless"][::3]]
    for i, case in enumerate(sample):
        photo = face_free_photo(inbox / f"photo{i:03d}.jpg", i)
        Path(f"{photo}.txt").write_bytes(case["caption"].encode("utf-8"))
        cases[photo.name] = case
    encoded = {
        "cp1252.jpg": ("Zoë O'Neill and Siobhán at the café – well done!".encode("cp1252"), "at the café – well done!"),
        "utf16.jpg": ("\ufeffŁukasz van der Berg and Zoë sang".encode("utf-16-le"), "sang"),
        "utf16be.jpg": ("Kofi Mensah’s goal".encode("utf-16"), "goal"),
        "bom.jpg": (b"\xef\xbb\xbf" + "Amelia Hart at the fair".encode("utf-8"), "at the fair"),
    }
    for i, (name, (data, expect)) in enumerate(encoded.items()):
        face_free_photo(inbox / name, 1000 + i)
        (inbox / name).with_suffix(".txt").write_bytes(data)
        cases[name] = {"caption": None, "names": [], "expect": expect}
    refused = {
        "binary.jpg": bytes(range(256)) * 4,
        "huge.jpg": ("Amelia Hart " * 6000).encode("utf-8"),
        "macroman.jpg": "Zoë O'Neill at the café".encode("mac_roman"),
        "cyrillic.jpg": "Амелия Харт на празднике".encode("cp1251"),
        "utf16nobom.jpg": "Amelia Hart at the fair".encode("utf-16-le"),
    }
    for i, (name, data) in enumerate(refused.items()):
        face_free_photo(inbox / name, 2000 + i)
        (inbox / name).with_suffix(".txt").write_bytes(data)
    r = runner.invoke(main, ["--workspace", str(root), "process", str(inbox), "--json"])
    assert r.exit_code == 0, r.output
    records = {Path(rec["source"]).name: rec for rec in json_lines(r.stdout)}
    return root, records, cases, refused


def test_every_photo_has_one_record(processed):
    _, records, cases, refused = processed
    assert set(records) == set(cases) | set(refused)


def test_released_captions_carry_no_names(processed):
    root, records, cases, _ = processed
    checked = 0
    for name, case in cases.items():
        rec = records[name]
        assert rec["status"] == "released", (name, rec["reason"])
        assert set(rec["outputs"]) == set(CHANNELS)
        for channel in CHANNELS:
            out = (root / rec["outputs"][channel]).with_suffix(".txt")
            text = out.read_text(encoding="utf-8").strip() if out.exists() else ""
            assert text == rec["captions"].get(channel, "")
            if "expect" in case:
                assert text == case["expect"], (name, channel)
            for pid in case["names"]:
                r = BY_ID[pid]
                assert not full_name_in(text, r["given_name"], r["family_name"]), (name, text)
                assert not part_in(text, r["given_name"]) and not part_in(text, r["family_name"]), (name, text)
            checked += 1
    assert checked >= 4 * 35


def test_refused_sidecars_hold_the_photo_for_review(processed):
    root, records, _, refused = processed
    for name in refused:
        rec = records[name]
        assert rec["status"] == "review", (name, rec["status"], rec["reason"])
        assert "caption file" in rec["reason"], rec["reason"]
        assert rec["outputs"] == {} and rec["captions"] == {}
    assert "64 KiB" in records["huge.jpg"]["reason"]
    assert list((root / "approved").rglob("*.txt")) and not any(
        "Амел" in p.read_text(encoding="utf-8") for p in (root / "approved").rglob("*.txt"))


@pytest.mark.parametrize("data, text, encoding", [
    ("Zoë at sports day".encode("utf-8"), "Zoë at sports day", "UTF-8"),
    (b"\xef\xbb\xbf" + "Zoë".encode("utf-8"), "Zoë", "UTF-8 with BOM"),
    ("Zoë – Siobhán".encode("utf-16"), "Zoë – Siobhán", "UTF-16"),
    (b"\xfe\xff" + "Łukasz".encode("utf-16-be"), "Łukasz", "UTF-16"),
    ("Zoë at the café – “well done”".encode("cp1252"), "Zoë at the café – “well done”", "Windows-1252"),
    ("£5 for Siobhán's cake".encode("cp1252"), "£5 for Siobhán's cake", "Windows-1252"),
    (b"  Rose Garden\r\n", "Rose Garden", "UTF-8"),
    ("Ça va? Très bien, merci".encode("cp1252"), "Ça va? Très bien, merci", "Windows-1252"),
    ("20°C and «sunny» for Zoë".encode("cp1252"), "20°C and «sunny» for Zoë", "Windows-1252"),
])
def test_sidecar_encodings_read(data, text, encoding):
    got = decode_caption(data)
    assert (got.text, got.encoding) == (text, encoding)


@pytest.mark.parametrize("data, why", [
    (b"x" * (SIDECAR_LIMIT + 1), "64 KiB"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not plain text"),
    ("Zoë".encode("utf-16-le"), "not plain text"),                       # UTF-16 without a BOM
    (b"\xff\xfe" + b"\x00\xd8", "not valid UTF-16"),                      # a lone surrogate
    ("Zoë at the café".encode("mac_roman"), "cannot be told"),
    ("It’s Siobhán’s day".encode("mac_roman"), "cannot be told"),
    ("Привет, это подпись".encode("cp1251"), "cannot be told"),
    ("Żółć i Łukasz".encode("cp1250"), "cannot be told"),
    ("Łukasz Wiśniewski".encode("cp1250"), "cannot be told"),
    ("Café à la mode".encode("mac_roman"), "cannot be told"),
    ("Zoë".encode("cp437"), "cannot be told"),
    (b"Zo\x81 at the fair", "cannot be told"),                            # undefined in Windows-1252
    ("caption\ufffdbroken".encode("utf-8"), "damaged"),
    (b"bell\x07", "not plain text"),
])
def test_sidecar_refused_with_a_reason(data, why):
    with pytest.raises(CaptionRefused) as exc:
        decode_caption(data)
    assert why in str(exc.value)
