"""The name engine on the caption corpus (tests/data/captions): hostile captions lose every name they
must, harmless ones come back unchanged, and an independent reader (tests/names_check.py) agrees."""
from __future__ import annotations

import json

import pytest

from processors.names import NamedPerson, find_full_names, find_names, scrub
from tests.names_check import DATA, full_name_in, load_register, part_in

ROWS = load_register()
PEOPLE = [NamedPerson(r["person_id"], r["given_name"], r["family_name"]) for r in ROWS]
BY_ID = {r["person_id"]: r for r in ROWS}
CORPUS = json.loads((DATA / "corpus.json").read_text(encoding="utf-8"))
HOSTILE = CORPUS["hostile"]
HARMLESS = CORPUS["harmless"]


@pytest.mark.parametrize("case", HOSTILE, ids=[f"h{i:02d}" for i in range(len(HOSTILE))])
def test_hostile_caption_loses_the_names(case):
    out = scrub(case["caption"], PEOPLE, set())
    if "expect" in case:
        assert out == case["expect"]
    for pid in case["names"]:
        r = BY_ID[pid]
        assert not full_name_in(out, r["given_name"], r["family_name"]), (pid, out)
        for part in (r["given_name"], r["family_name"]):
            assert not part_in(out, part), (part, out)


@pytest.mark.parametrize("case", [c for c in HOSTILE if "kept" in c],
                         ids=[f"k{i:02d}" for i, c in enumerate(HOSTILE) if "kept" in c])
def test_a_kept_person_keeps_the_given_name_only(case):
    for variant in case["kept"]:
        out = scrub(case["caption"], PEOPLE, set(variant["keep"]))
        assert out == variant["expect"]
        for pid in case["names"]:
            r = BY_ID[pid]
            assert not full_name_in(out, r["given_name"], r["family_name"]), (pid, out)


@pytest.mark.parametrize("caption", HARMLESS)
def test_harmless_caption_unchanged(caption):
    assert scrub(caption, PEOPLE, set()) == caption
    assert find_names(caption, PEOPLE) == []


def test_mode_none_removes_kept_names_too():
    assert scrub("Amelia Hart and Thanh at the fair", PEOPLE, {"P01", "P05"}, mode="none") == "at the fair"
    assert scrub("Amelia Hart and Thanh at the fair", PEOPLE, {"P01", "P05"}) == "Amelia and Thanh at the fair"


def test_spans_are_in_the_original_text():
    text = "Go \u0410me\u200dlia Ha\u0301rt! and Zoe\u0308"
    hits = find_names(text, PEOPLE)
    assert [(h.kind, text[h.start:h.end], h.person_id) for h in hits] == [
        ("full", "\u0410me\u200dlia Ha\u0301rt", "P01"), ("given", "Zoe\u0308", "P02")]


def test_one_rule_for_file_names_and_captions():
    from types import SimpleNamespace

    from pipeline.audit.run import filename_texts, name_findings

    obama = [NamedPerson("O1", "Barack", "Obama")]
    assert [h.kind for h in find_full_names("BarackObama", obama)] == ["full"]
    assert scrub("BarackObama", obama, set()) == ""
    ctx = SimpleNamespace(named=obama, people={})
    for rel in ("BarackObama.jpg", "2019/barack_obama-speech.JPG", "photos/Obama, Barack.png", "B.Obama.jpg"):
        found = name_findings("full_name_in_filename", filename_texts(rel), ctx, ["website"])
        assert [f["person"] for f in found] == ["O1"], rel
        stem = rel.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        assert find_full_names(stem, obama) and scrub(stem, obama, set()) != stem
    assert name_findings("full_name_in_filename", filename_texts("Obama's speech.jpg"), ctx, ["website"]) == []


def test_everyday_option_finds_every_word_name_for_erasure():
    rose = [NamedPerson("P06", "Rose", "Turner")]
    assert find_names("rose won at the Turner Prize", rose) == []
    assert [h.text for h in find_names("rose won at the Turner Prize", rose, everyday=True)] == ["rose", "Turner"]
