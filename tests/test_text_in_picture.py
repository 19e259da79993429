"""Names in the picture (issue 17): text read in photos, names redacted, harmless text kept.

Photos are made from the fixtures with text rendered by Pillow (tests/text_scenes.py): several
fonts, sizes and angles, on paper, badges, shirts, boards and screens, light and dark. Tesseract
(Debian ``tesseract-ocr``), an OCR independent of the product's PP-OCR, proves each name is no
longer legible after redaction and harmless text still is.
"""
from __future__ import annotations

import json
import random
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.conftest import fixtures_dir
from tests.text_scenes import fonts, make_scene, scene_set

PEOPLE = [("Amelia", "Hart"), ("Zoë", "Okafor"), ("Łukasz", "Nowak"), ("Siobhán", "Murphy"),
          ("Oliver", "Bennett"), ("Priya", "Raghunathan")]


def need_fonts() -> None:
    if not fonts():
        pytest.skip("needs TrueType fonts (Debian fonts-dejavu-core; scripts/setup installs it as root)")


@pytest.fixture(autouse=True)
def _needs_fonts():
    need_fonts()


def tesseract() -> str:
    path = shutil.which("tesseract")
    if not path:
        pytest.skip("needs tesseract (Debian package tesseract-ocr; scripts/setup installs it as root)")
    return path


def _fold(text: str) -> str:
    from processors.text.regions import fold

    return re.sub(r"[^a-z0-9]+", " ", fold(text)).strip()


def read_region(image: Image.Image, polygon, pad: float = 0.6) -> str:
    """Tesseract's reading of the region around ``polygon``, levelled and enlarged (its best chance)."""
    pts = np.asarray(polygon, dtype=np.float32)
    h = max(np.linalg.norm(pts[0] - pts[3]), np.linalg.norm(pts[1] - pts[2]), 8)
    xs, ys = pts[:, 0], pts[:, 1]
    box = (max(0, int(xs.min() - pad * h)), max(0, int(ys.min() - pad * h)),
           min(image.width, int(xs.max() + pad * h)), min(image.height, int(ys.max() + pad * h)))
    crop = image.crop(box)
    angle = np.degrees(np.arctan2(pts[1][1] - pts[0][1], pts[1][0] - pts[0][0]))
    crop = crop.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(128, 128, 128))
    factor = max(1.0, 48 / h)
    crop = crop.resize((int(crop.width * factor), int(crop.height * factor)), Image.Resampling.BICUBIC)
    out = subprocess.run([tesseract(), "stdin", "stdout", "--psm", "6"], input=_png(crop), capture_output=True,
                         env={"OMP_THREAD_LIMIT": "1", "PATH": "/usr/bin:/bin"}, timeout=60)
    return _fold(out.stdout.decode("utf-8", "replace"))


def _png(image: Image.Image) -> bytes:
    import io

    buf = io.BytesIO()
    image.convert("RGB").save(buf, "PNG")
    return buf.getvalue()


def _named(people):
    from processors.names import NamedPerson

    return [NamedPerson(f"P{i + 1:03d}", g, f) for i, (g, f) in enumerate(people)]


def _legible(text: str, reading: str) -> bool:
    """Tesseract read ``text``: every word of it (folded) among the words it read."""
    words = set(reading.split())
    return all(w in words for w in _fold(text).split() if w.isalpha())


def _name_legible(text: str, reading: str) -> bool:
    """Any name word of ``text`` (3+ letters) still read: a full name is gone only when no part is."""
    words = set(reading.split())
    return any(w in words for w in _fold(text).split() if len(w) >= 3)


# --------------------------------------------------------------------------- the product's parts

@pytest.fixture(scope="module")
def scenes():
    need_fonts()
    events = fixtures_dir("faces", "events")
    backgrounds = [Image.open(p).convert("RGB") for p in sorted(events.glob("*.jpg"))]
    # Every card kind, all fonts in turn, 14-36 px capitals, -30..+30 degrees.
    return scene_set(backgrounds, PEOPLE, seed=41, count=6, letter_range=(14, 36))


def test_names_redacted_and_harmless_text_kept_as_tesseract_reads_them(scenes):
    """Each full name (and a pupil's family name on a shirt) is unreadable after redaction;
    harmless lines that tesseract could read before are still readable and untouched."""
    from processors.text import read_lines, text_regions
    from processors.text.redact import redact_polygons, region_record

    tesseract()
    people = _named(PEOPLE)
    names_total = names_gone = harmless_total = harmless_kept = 0
    failures = []
    for i, scene in enumerate(scenes):
        lines = read_lines(np.asarray(scene.image))
        regions = [region_record(r, ["website"], {}) for r in text_regions(lines, people, {})]
        redacted = redact_polygons(scene.image, [r["polygon"] for r in regions if r["decisions"]["website"] == "redact"])
        for region in scene.regions:
            after = read_region(redacted, region.polygon)
            if region.label in ("name", "family"):
                names_total += 1
                if _name_legible(region.text, after):
                    failures.append((i, scene.kind, region.label, region.letter_px))
                else:
                    names_gone += 1
            elif _legible(region.text, read_region(scene.image, region.polygon)):
                harmless_total += 1
                changed = _changed_fraction(scene.image, redacted, region.polygon)
                if _legible(region.text, after) and changed < 0.1:
                    harmless_kept += 1
                else:
                    failures.append((i, scene.kind, "harmless", region.letter_px, round(changed, 2)))
    assert names_total >= 6 and harmless_total >= 5
    assert names_gone == names_total, failures
    assert harmless_kept >= 0.9 * harmless_total, failures


def _changed_fraction(before: Image.Image, after: Image.Image, polygon) -> float:
    mask = Image.new("L", before.size, 0)
    ImageDraw.Draw(mask).polygon([tuple(map(float, p)) for p in polygon], fill=255)
    m = np.asarray(mask) > 0
    diff = np.abs(np.asarray(before, dtype=np.int16) - np.asarray(after, dtype=np.int16)).max(axis=2)
    return float((diff[m] > 24).mean())


def test_rule_full_names_family_of_pupils_given_names_where_kept():
    """The per-channel rule on read lines: full name everywhere, a pupil's family name everywhere,
    a member of staff's family name and a lone given name only where that person is not kept."""
    from processors.text.engine import TextLine
    from processors.text.redact import region_record
    from processors.text.regions import text_regions

    people = _named([("Amelia", "Hart"), ("Oliver", "Bennett")])
    quad = np.array([[0, 0], [300, 0], [300, 30], [0, 30]], dtype=np.float32)

    def decide(text, kept, roles=None):
        regions = text_regions([TextLine(quad, text, 0.99)], people, roles or {})
        return [(r.kind, r.person, region_record(r, ["web", "social"], kept)["decisions"]) for r in regions
                if r.kind != "unread"]   # (the area beside a lone part: test_the_unread_part_of_a_name...)

    assert decide("Star of the Week Amelia Hart", {"web": {"P001"}}) == [
        ("full", "P001", {"web": "redact", "social": "redact"})]
    assert decide("HART, AMELIA", {}) == [("full", "P001", {"web": "redact", "social": "redact"})]
    assert decide("Arnelia Hart", {}) == [("full", "P001", {"web": "redact", "social": "redact"})]  # OCR slip
    assert decide("AmeliaHart", {}) == [("full", "P001", {"web": "redact", "social": "redact"})]    # run together
    assert decide("BENNETT", {}) == [("family", "P002", {"web": "redact", "social": "redact"})]
    assert decide("Mr Bennett", {"web": {"P002"}}, {"P002": "staff"}) == [
        ("family", "P002", {"web": "keep", "social": "redact"})]
    assert decide("Amelia", {"web": {"P001"}}) == [("given", "P001", {"web": "keep", "social": "redact"})]
    assert decide("Sports Day 2026", {}) == [("text", None, {"web": "keep", "social": "keep"})]


def test_class_list_badge_and_certificate_forms_of_an_everyday_surname():
    """Hart, Hill and Walker are everyday words, so the name engine wants context; in a picture a line
    with nothing else but initials, a class code or a label is that context: "HART A" on a peg,
    "1. Hart A" on a class list, "Hart 4B" on a badge, "Captain: Hart" on a certificate. The same
    words in harmless text stay."""
    from processors.text.engine import TextLine
    from processors.text.regions import text_regions

    people = _named([("Amelia", "Hart"), ("Rosie", "Hill"), ("Jack", "Walker")])
    quad = np.array([[0, 0], [300, 0], [300, 30], [0, 30]], dtype=np.float32)

    def read(text):
        return [(r.kind, r.person, r.rule) for r in text_regions([TextLine(quad, text, 0.99)], people, {})]

    for text, pid in (("HART A", "P001"), ("1. Hart A", "P001"), ("Hill R", "P002"), ("4. Walker J", "P003"),
                      ("HART A 4B", "P001"), ("HartA", "P001")):
        assert read(text) == [("full", pid, "redact")], text
    for text, pid in (("Hart 4B", "P001"), ("Captain: Hart", "P001"), ("Star of the Week: Hart", "P001"),
                      ("Walker 10", "P003")):
        assert read(text) == [("family", pid, "redact")], text
    for text in ("Hill Walk", "Hart Road", "Plan B", "Sports Day 2026", "Walker Cup: Year 4", "HartB", "HARTA"):
        assert read(text) == [("text", None, "keep")], text


def test_a_name_split_into_overlapping_boxes_at_thirty_degrees_is_joined():
    """At ~30 degrees the detector splits "Amelia Hart" into two boxes that overlap by most of a
    letter; read as one line, it is the full name (not a lone given name and an everyday word)."""
    import math

    from processors.text.engine import TextLine
    from processors.text.regions import text_regions

    people = _named([("Amelia", "Hart")])
    t = math.radians(30)
    axis, up = np.array([math.cos(t), math.sin(t)]), np.array([-math.sin(t), math.cos(t)])

    def box(start, length, h=20.0):
        o = np.array([100.0, 100.0]) + axis * start
        return np.array([o, o + axis * length, o + axis * length + up * h, o + up * h], dtype=np.float32)

    lines = [TextLine(box(0, 120), "Amelia", 0.99), TextLine(box(102, 80), "Hart", 0.99)]  # 0.9 letters overlap
    regions = text_regions(lines, people, {})
    assert ("full", "P001", "redact") in [(r.kind, r.person, r.rule) for r in regions]


def test_a_given_name_that_is_an_everyday_word_alone_on_its_line_is_a_given_name():
    """"ROSE" on a peg, "Kit" on a badge: alone on their line these name a child even though the name
    engine does not take the words alone in a caption; kept only where that child is kept."""
    from processors.text.engine import TextLine
    from processors.text.redact import region_record
    from processors.text.regions import text_regions

    people = _named([("Rose", "Hill"), ("Kit", "Harington"), ("Rose", "Okafor")])
    quad = np.array([[0, 0], [300, 0], [300, 30], [0, 30]], dtype=np.float32)

    def decide(text, kept):
        return [(r.kind, region_record(r, ["web", "social"], kept)["decisions"])
                for r in text_regions([TextLine(quad, text, 0.95)], people, {}) if r.kind != "unread"]

    assert decide("ROSE", {}) == [("given", {"web": "redact", "social": "redact"})]
    assert decide("Rose", {"web": {"P003"}}) == [("given", {"web": "keep", "social": "redact"})]  # either Rose
    assert decide("Kit", {}) == [("given", {"web": "redact", "social": "redact"})]
    for text in ("Rose Garden", "Kit list", "Jack 7"):
        assert decide(text, {}) == [("text", {"web": "keep", "social": "keep"})], text


def test_a_given_name_followed_by_its_family_name_cut_short_is_the_full_name():
    """Read small or turned, a line can come back as "Amelia Hat" or "Priya Raghun": the given name is
    found, and the family name beside it, cut short or misread, goes with it (both words redacted on
    every channel, not the given name alone)."""
    from processors.text.engine import TextLine
    from processors.text.regions import text_regions

    people = _named([("Amelia", "Hart"), ("Priya", "Raghunathan")])
    quad = np.array([[0, 0], [300, 0], [300, 30], [0, 30]], dtype=np.float32)
    for text, pid in (("Amelia Hat", "P001"), ("Amelia art", "P001"), ("Priya Raghun", "P002"),
                      ("Priya Ragunathan", "P002")):
        regions = text_regions([TextLine(quad, text, 0.95)], people, {})
        assert [(r.kind, r.person, r.rule) for r in regions] == [("full", pid, "redact")], text
    for text in ("Amelia is here", "Well done Amelia", "Amelia Ha"):
        regions = text_regions([TextLine(quad, text, 0.95)], people, {})
        assert [(r.kind, r.rule) for r in regions if r.kind != "unread"] == [("given", "conditional")], text


def test_the_unread_part_of_a_name_beside_a_lone_part_is_redacted_as_that_part():
    """Small letters turned by ~30 degrees on a large photo: the detector reads "Amelia" and does not see
    "Hart" beside it at all (measured). A given name that ends its line is taken to be followed by its
    family name: the area after it, the family name's length, is redacted as a pupil's family name would
    be (every channel). A family name alone on its line gets the area before it, as its given name
    (where the person is not kept). Not when the line goes on, nor over another line read there."""
    import cv2

    from processors.text.engine import TextLine
    from processors.text.redact import region_record
    from processors.text.regions import text_regions

    people = _named([("Amelia", "Hart")])

    def quad(x, y, w, h=30):
        return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=np.float32)

    def unread(lines, kept=None):
        return [(r, region_record(r, ["web", "social"], kept or {})["decisions"])
                for r in text_regions(lines, people, {}) if r.kind == "unread"]

    def covers(region, x0, x1) -> bool:   # the region covers the span x0..x1 at mid-height of the line
        return all(cv2.pointPolygonTest(region.polygon, (float(x), 15.0), False) >= 0 for x in (x0, x1))

    (after, decisions), = unread([TextLine(quad(100, 0, 120), "Amelia", 0.99)])
    assert decisions == {"web": "redact", "social": "redact"} and after.person == "P001"
    assert covers(after, 225, 290) and not covers(after, 90, 95)       # "Hart" would be at ~225-300
    (after, _), = unread([TextLine(quad(0, 0, 300), "Well done Amelia", 0.99)])
    assert covers(after, 310, 370)
    (before, decisions), = unread([TextLine(quad(300, 0, 80), "HART", 0.99)], {"web": {"P001"}})
    assert decisions == {"web": "keep", "social": "redact"} and covers(before, 220, 290)
    assert unread([TextLine(quad(0, 0, 300), "Amelia is here", 0.99)]) == []
    assert unread([TextLine(quad(0, 0, 300), "HART, Amelia", 0.99)]) == []          # the full name, read
    assert unread([TextLine(quad(0, 0, 300), "Star of the Week: Hart", 0.99)]) == []  # the line goes on
    assert unread([TextLine(quad(100, 0, 120), "Amelia", 0.99), TextLine(quad(230, 0, 150), "Sports Day", 0.99)]) == []


def test_a_two_line_badge_is_a_full_name_even_for_a_kept_member_of_staff():
    """"Barack" over "OBAMA" on a visitor's badge: each line alone would be a staff member's given or
    family name (kept where he is kept); one under the other they are his full name, redacted on every
    channel. The same two words far apart on a photo stay as they were."""
    from processors.text.engine import TextLine
    from processors.text.redact import region_record
    from processors.text.regions import text_regions

    people = _named([("Barack", "Obama")])
    roles, kept = {"P001": "staff"}, {"web": {"P001"}, "social": {"P001"}}

    def quad(x, y, w=200, h=30):
        return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=np.float32)

    def decide(lines):
        return [(r.kind, set(region_record(r, ["web", "social"], kept)["decisions"].values()))
                for r in text_regions(lines, people, roles) if r.kind != "unread"]

    badge = [TextLine(quad(0, 0), "Mr Barack", 0.99), TextLine(quad(20, 38, 150), "OBAMA", 0.99),
             TextLine(quad(0, 76), "Visitor", 0.99)]
    assert decide(badge) == [("full", {"redact"}), ("full", {"redact"}), ("text", {"keep"})]
    apart = [TextLine(quad(0, 0), "Barack", 0.99), TextLine(quad(600, 400), "OBAMA", 0.99)]
    assert decide(apart) == [("given", {"keep"}), ("family", {"keep"})]


def test_name_span_maps_to_part_of_the_line():
    """Only the name's part of a long line is redacted: the rest of the line keeps its pixels."""
    from processors.text.engine import TextLine
    from processors.text.regions import sub_polygon

    text = "Star of the Week - Amelia Hart"
    quad = np.array([[0, 0], [600, 0], [600, 30], [0, 30]], dtype=np.float32)
    start = text.index("Amelia")
    part = sub_polygon(TextLine(quad, text, 1.0), start, len(text))
    assert part[:, 0].min() > 300 and part[:, 0].max() == pytest.approx(600)


def test_a_name_whose_accented_letter_the_reader_cannot_read_is_still_a_name():
    """The recogniser's alphabet has no "ë" or "Ł": it reads "Zoë Okafor" as "Zo Okafor" and
    "Łukasz" as "ukasz". Both are still the register's names."""
    from processors.text.engine import TextLine
    from processors.text.regions import text_regions

    people = _named([("Zoë", "Okafor"), ("Łukasz", "Nowak")])
    quad = np.array([[0, 0], [300, 0], [300, 30], [0, 30]], dtype=np.float32)
    for text, pid in (("Zo Okafor", "P001"), ("OKAFOR, ZO", "P001"), ("ukasz Nowak", "P002")):
        regions = text_regions([TextLine(quad, text, 0.95)], people, {})
        assert [(r.kind, r.person, r.rule) for r in regions] == [("full", pid, "redact")], text
    assert [r.kind for r in text_regions([TextLine(quad, "Zoo visit", 0.95)], people, {})] == ["text"]


def test_a_name_that_is_most_of_its_line_takes_the_whole_line():
    """On a badge or a shirt the name is the line; what the recogniser made of the rest of it (a
    dropped letter, a stray mark) goes too. On a long line only the name's part is redacted."""
    from processors.text.engine import TextLine
    from processors.text.regions import text_regions

    people = _named([("Zoë", "Okafor"), ("Amelia", "Hart")])
    quad = np.array([[0, 0], [200, 0], [200, 30], [0, 30]], dtype=np.float32)
    (region,) = [r for r in text_regions([TextLine(quad, "OKAFOR 7.", 0.9)], people, {}) if r.kind != "unread"]
    assert region.kind == "family" and np.array_equal(region.polygon, quad)
    long = np.array([[0, 0], [600, 0], [600, 30], [0, 30]], dtype=np.float32)
    (region,) = text_regions([TextLine(long, "Star of the Week - Amelia Hart", 0.99)], people, {})
    assert region.polygon[:, 0].min() > 300


def test_small_text_on_a_large_photo_gets_a_second_look():
    """A 14-16 px badge on a 1,548-px photo: at the detector's 960 px the two lines came out as one
    box read as nonsense; looked at again close up, the family name is read and redacted."""
    need_fonts()
    from processors.text import engine
    from processors.text.redact import region_record
    from processors.text.regions import text_regions
    from processors.names import NamedPerson

    events = fixtures_dir("faces", "events")
    groups = fixtures_dir("faces", "groups")
    backgrounds = [Image.open(p).convert("RGB") for p in sorted(events.glob("*.jpg")) + sorted(groups.glob("*.jpg"))]
    people = [NamedPerson(f"P{i + 1:03d}", g, f) for i, (g, f) in enumerate(PEOPLE)]
    scene = scene_set(backgrounds, PEOPLE, seed=3, count=40, letter_range=(14, 16))[32]
    rgb = np.asarray(scene.image)
    assert max(rgb.shape[:2]) / engine.DETECT_LONG_EDGE > 1 / engine.ZOOM_BELOW_SCALE
    family = next(r for r in scene.regions if r.label == "family")

    def covered(lines) -> float:
        regions = text_regions(lines, people, {})
        polys = [region_record(r, ["web"], {})["polygon"] for r in regions if r.rule == "redact"]
        mask = Image.new("L", scene.image.size, 0)
        for poly in polys:
            ImageDraw.Draw(mask).polygon([tuple(map(float, pt)) for pt in poly], fill=255)
        drawn = Image.new("L", scene.image.size, 0)
        ImageDraw.Draw(drawn).polygon([tuple(map(float, pt)) for pt in family.polygon], fill=255)
        inside = np.asarray(drawn) > 0
        return float((np.asarray(mask) > 0)[inside].mean())

    assert covered(engine._read(rgb, engine.DETECT_LONG_EDGE)) < 0.5   # the first look alone misses it
    assert covered(engine.read_lines(rgb)) >= 0.8


# (Each of these lost its name at 960 px: measured, 6 of 30 such scenes did, 1 at 0.7x.)
@pytest.mark.parametrize("size, letter_px, angle, seed", [((3000, 2000), 16, -25.0, 0), ((2000, 1500), 14, 30.0, 2),
                                                         ((2016, 1512), 16, 30.0, 1)])
def test_small_turned_names_on_large_photos_are_read(size, letter_px, angle, seed):
    """A 2,000-3,000-px photo (a phone photo is worked on at 2,016 px) with a name in 14-18 px letters
    turned by 25-30 degrees: reduced to 960 px for detection the line came out as nothing or cut short
    ("Amelia Hat"), and the family name was published; the detector now works at no less than
    MIN_DETECT_SCALE of the photo's size."""
    need_fonts()
    from processors.names import NamedPerson
    from processors.text import engine
    from processors.text.redact import region_record
    from processors.text.regions import text_regions

    background = Image.open(fixtures_dir("faces", "events") / "obama_and_biden.jpg").convert("RGB").resize(size)
    scene = make_scene(background, kind="paper", lines=[("Star of the Week", "harmless"), ("Amelia Hart", "name")],
                       font=fonts()[seed % len(fonts())], letter_px=letter_px, angle=angle, rng=random.Random(seed))
    rgb = np.asarray(scene.image)
    people = [NamedPerson("P001", "Amelia", "Hart")]
    name = next(r for r in scene.regions if r.label == "name")

    def covered(lines) -> float:
        records = [region_record(r, ["web"], {}) for r in text_regions(lines, people, {})]
        polys = [rec["polygon"] for rec in records if rec["decisions"]["web"] == "redact"]
        mask = Image.new("L", scene.image.size, 0)
        for poly in polys:
            ImageDraw.Draw(mask).polygon([tuple(map(float, pt)) for pt in poly], fill=255)
        drawn = Image.new("L", scene.image.size, 0)
        ImageDraw.Draw(drawn).polygon([tuple(map(float, pt)) for pt in name.polygon], fill=255)
        return float((np.asarray(mask) > 0)[np.asarray(drawn) > 0].mean())

    assert covered(engine.read_lines(rgb, long_edge=engine.DETECT_LONG_EDGE)) < 0.8  # as it was
    assert covered(engine.read_lines(rgb)) >= 0.8


# --------------------------------------------------------------------------- the pipeline, end to end

REGISTER = ("person_id,given_name,family_name,group,role,website,social,newsletter,press,expires,never_publish\n"
            "P001,Amelia,Hart,Y4,pupil,yes,yes,yes,yes,,no\n"
            "P002,Oliver,Bennett,Y4,pupil,yes,yes,yes,yes,,no\n")


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    """A workspace that processed two photos: a certificate and a named shirt beside the people."""
    from click.testing import CliRunner

    from pipeline.cli import main

    need_fonts()
    tesseract()
    events = fixtures_dir("faces", "events")
    base = tmp_path_factory.mktemp("text_ws")
    root = base / "ws"
    run = CliRunner()
    assert run.invoke(main, ["init", str(root)]).exit_code == 0
    (base / "register.csv").write_text(REGISTER, encoding="utf-8")
    assert run.invoke(main, ["--workspace", str(root), "consent", "import", str(base / "register.csv")]).exit_code == 0
    rng = random.Random(5)
    photos = base / "photos"
    photos.mkdir()
    cert = make_scene(Image.open(events / "obama1.jpg"), kind="paper", beside=True, rng=rng, angle=-14,
                      lines=[("Sports Day 2026", "harmless"), ("Amelia Hart", "name"), ("Year 4 Science Fair", "harmless")],
                      font=fonts()[2 % len(fonts())], letter_px=24)
    shirt = make_scene(Image.open(events / "two_people.jpg"), kind="shirt", beside=True, rng=rng, angle=8,
                       lines=[("BENNETT", "family"), ("Sports Day 2026", "harmless")],
                       font=fonts()[1 % len(fonts())], letter_px=30)
    cert.image.save(photos / "certificate.jpg", quality=93)
    shirt.image.save(photos / "shirt.jpg", quality=93)
    result = subprocess.run([*__import__("tests.conftest", fromlist=["PIPELINE"]).PIPELINE, "--workspace", str(root),
                             "process", str(photos / "certificate.jpg"), str(photos / "shirt.jpg"), "--json"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    records = {Path(r["source"]).name: r for r in map(json.loads, filter(str.strip, result.stdout.splitlines()))}
    return {"root": root, "records": records, "scenes": {"certificate.jpg": cert, "shirt.jpg": shirt},
            "stdout": result.stdout, "stderr": result.stderr}


def test_pipeline_redacts_names_on_every_channel_and_records_texts(processed):
    root, records = processed["root"], processed["records"]
    for name, scene in processed["scenes"].items():
        record = records[name]
        assert record["status"] == "released", record["reason"]
        redacted = [t for t in record["texts"] if t["redacted"]]
        assert redacted and all(t["why"] in ("P001", "P002") for t in redacted)
        assert all(set(t) >= {"box", "redacted", "why"} for t in record["texts"])
        seen = set()
        for channel, rel in record["outputs"].items():
            data = (root / rel).read_bytes()
            if data in seen:          # channels that redact the same regions share one encoding
                continue
            seen.add(data)
            with Image.open(root / rel) as im:
                out = im.convert("RGB")
            scale = out.width / scene.image.width
            for region in scene.regions:
                poly = [(x * scale, y * scale) for x, y in region.polygon]
                reading = read_region(out, poly)
                if region.label == "harmless":
                    assert _legible(region.text, reading), (name, channel, region.text, reading)
                else:
                    assert not _name_legible(region.text, reading), (name, channel, region.label, reading)


def test_recognised_names_never_in_output_or_logs(processed):
    everything = processed["stdout"] + processed["stderr"]
    for word in ("Amelia", "Hart", "Bennett", "BENNETT", "AMELIA", "HART"):
        assert word not in everything
    db = (processed["root"] / "pipeline.db").read_bytes()
    assert b"Sports Day" not in db   # recognised text is not stored either


def test_audit_reports_full_name_in_picture_with_its_box(processed, tmp_path):
    from click.testing import CliRunner

    from pipeline.cli import main

    archive = tmp_path / "archive"
    archive.mkdir()
    processed["scenes"]["certificate.jpg"].image.save(archive / "old_post.jpg", quality=92)
    out = CliRunner().invoke(main, ["--workspace", str(processed["root"]), "audit", str(archive),
                                    "--channel", "website", "--format", "json"])
    assert out.exit_code == 1, out.output
    files = [json.loads(line) for line in out.output.splitlines() if line.startswith("{")]
    findings = [f for rec in files for f in rec.get("findings", []) if f["kind"] == "full_name_in_picture"]
    assert findings and findings[0]["person"] == "P001" and len(findings[0]["box"]) == 4
    drawn = processed["scenes"]["certificate.jpg"].regions[1]
    t, r, b, l = findings[0]["box"]
    cx, cy = np.mean([p[0] for p in drawn.polygon]), np.mean([p[1] for p in drawn.polygon])
    assert l <= cx <= r and t <= cy <= b


def test_all_text_redacts_every_line_and_off_reads_nothing(tmp_path, cli):
    events = fixtures_dir("faces", "events")
    tesseract()
    scene = make_scene(Image.open(events / "obama1.jpg"), kind="board", beside=True, rng=random.Random(9),
                       angle=5, lines=[("Sports Day 2026", "harmless"), ("Year 4 Science Fair", "harmless")],
                       font=fonts()[0], letter_px=26)
    photo = tmp_path / "board.jpg"
    scene.image.save(photo, quality=93)
    for setting, expect_legible in (("all = true", False), ('names = "off"', True)):
        root = tmp_path / setting.split()[0]
        cli("init", root, expect=0)
        cfg = root / "pipeline.toml"
        cfg.write_text(cfg.read_text().replace(setting.split()[0] + " = " + ("false" if "all" in setting else '"redact"'),
                                               setting), encoding="utf-8")
        result = cli("process", photo, "--json", workspace=root, expect=0)
        record = json.loads(result.output.splitlines()[0])
        assert (len(record["texts"]) >= 2) == (not expect_legible)
        with Image.open(root / record["outputs"]["website"]) as im:
            out = im.convert("RGB")
        scale = out.width / scene.image.width
        for region in scene.regions:
            reading = read_region(out, [(x * scale, y * scale) for x, y in region.polygon])
            assert _legible(region.text, reading) == expect_legible, (setting, region.text, reading)


@pytest.mark.parametrize("body, words", [
    ('[text]\nnames = "blur"\n', ["[text] names", "redact", "off"]),
    ("[text]\nall = \"yes\"\n", ["[text] all", "bool"]),
    ("[text]\nnamez = \"off\"\n", ["unknown key", "namez"]),
])
def test_text_settings_are_validated(tmp_path, cli, body, words):
    root = tmp_path / "ws"
    cli("init", root, expect=0)
    cfg = root / "pipeline.toml"
    text = cfg.read_text()
    text = re.sub(r"\[text\][^\[]*", "", text)
    cfg.write_text(text + "\n" + body, encoding="utf-8")
    result = cli("consent", "list", workspace=root)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    for w in words:
        assert w in result.output


def test_held_photo_preview_outlines_text_regions_and_release_keeps_names_redacted(tmp_path, cli):
    events = fixtures_dir("faces", "events")
    scene = make_scene(Image.open(events / "obama1.jpg"), kind="badge", beside=True, rng=random.Random(2),
                       angle=0, lines=[("Amelia Hart", "name"), ("Sports Day 2026", "harmless")],
                       font=fonts()[0], letter_px=28)
    photo = tmp_path / "badge.jpg"
    scene.image.save(photo, quality=93)
    root = tmp_path / "ws"
    cli("init", root, expect=0)
    cfg = root / "pipeline.toml"
    cfg.write_text(cfg.read_text().replace('unknown = "blur"', 'unknown = "review"'), encoding="utf-8")
    (tmp_path / "r.csv").write_text(REGISTER, encoding="utf-8")
    cli("consent", "import", tmp_path / "r.csv", workspace=root, expect=0)
    record = json.loads(cli("process", photo, "--json", workspace=root, expect=0).output.splitlines()[0])
    assert record["status"] == "review"
    with Image.open(root / "review" / f"{record['job_id']}.jpg") as im:
        preview = np.asarray(im.convert("RGB"), dtype=np.int16)
    outline = (np.abs(preview[:, :, 0] - 255) < 40) & (np.abs(preview[:, :, 1] - 200) < 40) & (preview[:, :, 2] < 70)
    scale = preview.shape[1] / scene.image.width
    for region in scene.regions:
        x0, y0, x1, y1 = (int(v * scale) for v in region.bbox)
        near = outline[max(0, y0 - 30):y1 + 30, max(0, x0 - 40):x1 + 40]
        assert near.sum() > 20, region.text
    from pipeline.review.queue import held_image
    from pipeline.workspace import open_workspace

    ws = open_workspace(root)
    try:  # the review page says what the yellow outlines are
        item = held_image(ws, record["job_id"])
        assert item["text_regions"] == len(record["texts"]) >= 2 and item["clip"] is False
    finally:
        ws.close()
    # Released on review: the name read in the picture stays redacted, the harmless line readable.
    tesseract()
    cli("review", "decide", record["job_id"], "--release", workspace=root, expect=0)
    with sqlite3.connect(root / "pipeline.db") as conn:
        rel = conn.execute("SELECT path FROM outputs WHERE job_id=? AND channel='website'", (record["job_id"],)).fetchone()[0]
    with Image.open(root / rel) as im:
        out = im.convert("RGB")
    scale = out.width / scene.image.width
    readings = {r.text: read_region(out, [(x * scale, y * scale) for x, y in r.polygon]) for r in scene.regions}
    assert not _name_legible("Amelia Hart", readings["Amelia Hart"]), readings
    assert _legible("Sports Day 2026", readings["Sports Day 2026"]), readings


def test_given_name_follows_its_person_and_consent_change_rerenders_text(tmp_path, cli):
    """A badge "Barack" beside Barack's face is kept where his face is kept; withdrawing his consent
    for one channel re-renders that channel with his face *and* his name redacted, and the full
    name of another pupil on the certificate stays redacted in the re-rendered file."""
    tesseract()
    enrol = fixtures_dir("faces", "enrol")
    events = fixtures_dir("faces", "events")
    root = tmp_path / "ws"
    cli("init", root, expect=0)
    (tmp_path / "r.csv").write_text(
        "person_id,given_name,family_name,group,role,website,social,newsletter,press,expires,never_publish,biometric\n"
        "obama,Barack,Obama,Y6,pupil,yes,yes,yes,yes,,no,yes\n"
        "P002,Amelia,Hart,Y4,pupil,yes,yes,yes,yes,,no,yes\n", encoding="utf-8")
    cli("consent", "import", tmp_path / "r.csv", workspace=root, expect=0)
    staff = tmp_path / "enrol"
    shutil.copytree(enrol / "obama", staff / "obama")
    cli("consent", "enrol", staff, workspace=root, expect=0)
    scene = make_scene(Image.open(events / "obama1.jpg"), kind="badge", beside=True, rng=random.Random(4),
                       angle=-6, lines=[("Barack", "given"), ("Amelia Hart", "name"), ("Sports Day 2026", "harmless")],
                       font=fonts()[0], letter_px=30)
    photo = tmp_path / "badge.jpg"
    scene.image.save(photo, quality=93)
    record = json.loads(cli("process", photo, "--json", workspace=root, expect=0).output.splitlines()[0])
    assert record["status"] == "released" and record["faces"][0]["person"] == "obama"

    def readings(channel):
        with Image.open(root / record["outputs"][channel]) as im:
            out = im.convert("RGB")
        scale = out.width / scene.image.width
        return {r.text: read_region(out, [(x * scale, y * scale) for x, y in r.polygon]) for r in scene.regions}

    before = readings("social")
    assert _legible("Barack", before["Barack"]), before
    assert not _name_legible("Amelia Hart", before["Amelia Hart"]), before
    assert _legible("Sports Day 2026", before["Sports Day 2026"]), before
    cli("consent", "set", "obama", "--channel", "social", "--status", "withdrawn", workspace=root, expect=0)
    after = readings("social")
    assert not _legible("Barack", after["Barack"]), after
    assert not _name_legible("Amelia Hart", after["Amelia Hart"]), after
    assert _legible("Sports Day 2026", after["Sports Day 2026"]), after
    assert _legible("Barack", readings("website")["Barack"])      # still kept where he is kept


def test_detector_graph_rewrites_are_exact():
    """The text detector's graph is simplified before it is quantised (affine blocks folded into
    their convolutions, hard-swish as one operator): the float model gives the same map."""
    import onnx
    import onnxruntime
    from onnx import version_converter

    from processors.text import det_graph, engine

    model = onnx.load(str(engine.model_dir() / "ch_PP-OCRv4_det_infer.onnx"))
    model = version_converter.convert_version(model, det_graph.OPSET)
    before = model.SerializeToString()
    assert det_graph.simplify(model) == (28, 24)
    onnx.checker.check_model(model)
    ops = {n.op_type for n in model.graph.node}
    assert "HardSwish" in ops and "Div" not in ops

    def run(data):
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: x})[0]

    x = np.random.default_rng(3).uniform(-1, 1, (1, 3, 160, 224)).astype(np.float32)
    assert np.abs(run(before) - run(model.SerializeToString())).max() < 1e-5


def _float_run(data, x):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def test_detector_rewrites_for_int8_are_exact_in_float():
    """Before quantisation the detector's head is moved to a quarter of the resolution (16 channels that
    head_map puts back in place) and each hard-swish's division is marked: in float, the same map."""
    import onnx
    from onnx import version_converter

    from processors.text import det_graph, engine

    model = onnx.load(str(engine.model_dir() / "ch_PP-OCRv4_det_infer.onnx"))
    model = version_converter.convert_version(model, det_graph.OPSET)
    before = model.SerializeToString()
    assert det_graph.for_int8(model) == (28, 24, True)
    onnx.checker.check_model(model)
    assert "ConvTranspose" not in {n.op_type for n in model.graph.node}
    for h, w in ((160, 224), (96, 320)):
        x = np.random.default_rng(h).uniform(-1, 1, (1, 3, h, w)).astype(np.float32)
        quarter = _float_run(model.SerializeToString(), x)
        assert quarter.shape == (1, 16, h // 4, w // 4)
        assert np.abs(det_graph.head_map(quarter) - _float_run(before, x)).max() < 1e-4


def test_int8_detector_follows_the_float_detector():
    """The int8 detector as built (hard-swish divisions removed after quantisation, head at a quarter of
    the resolution, the photo's bytes as input) gives the float detector's text map: the same pixels above the detector's threshold
    but for a fraction of a percent, on scenes with text the calibration never saw."""
    import onnx

    from processors.text import det_graph, det_int8, engine

    path = engine.model_dir() / "ch_PP-OCRv4_det_infer.onnx"
    built = det_int8._build(path)
    ops = [n.op_type for n in onnx.load_from_string(built).graph.node]
    assert "Div" not in ops and "ConvTranspose" not in ops
    assert onnx.load_from_string(built).graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    float_model = path.read_bytes()
    disagree = []
    for x in det_int8.calibration_inputs(3, seed=99):
        photo_bytes = np.round((x + 1.0) * 127.5).astype(np.uint8)   # it takes the photo's bytes
        ours = det_graph.head_map(_float_run(built, photo_bytes))
        reference = _float_run(float_model, x)
        assert ours.shape == reference.shape
        assert np.abs(ours - reference).mean() < 0.01
        disagree.append(float(((ours > 0.25) != (reference > 0.25)).mean()))
    assert max(disagree) < 0.01, disagree


def test_the_float_detector_still_reads_when_the_int8_one_is_unavailable(monkeypatch):
    """If the int8 detector cannot be built the float model runs (floats in -1..1, full-resolution map):
    the same name is found either way."""
    from PIL import ImageFont

    from processors.text import engine
    from processors.text.regions import text_regions

    people = _named([("Amelia", "Hart")])
    image = Image.new("RGB", (640, 200), "white")
    ImageDraw.Draw(image).text((40, 70), "Well done Amelia Hart", fill="black", font=ImageFont.load_default(size=36))
    rgb = np.asarray(image)
    found = {}
    for int8 in (True, False):
        monkeypatch.setattr(engine, "USE_INT8", int8)
        found[int8] = [(r.kind, r.person) for r in text_regions(engine.read_lines(rgb), people, {})]
    assert found[True] == found[False] == [("full", "P001")], found
