"""Face recall (issue 7): the default detector finds every hand-labelled face of the group photos,
also when they are turned by ±25° and scaled to 0.75× — a missed face would be published unredacted.

The stress images and the scoring are those of ``benchmarks/recall.py`` (the benchmark reports the
same thing for more variants and side by side with face_recognition's HOG detector). A face counts
as found when a reported box contains its labelled centre and is at most four times its area.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.recall import Sample, build_stress_set, found
from tests.conftest import fixtures_dir, json_lines

VARIANTS = ("original", "rot+25", "rot-25", "scale0.75")


@pytest.fixture(scope="module")
def stress_set() -> dict[str, list[Sample]]:
    groups = fixtures_dir("faces", "groups")
    samples = build_stress_set(VARIANTS, groups)
    assert len({s.photo for s in samples}) == 9 and sum(len(s.faces) for s in samples) == 4 * 43
    return {v: [s for s in samples if s.variant == v] for v in VARIANTS}


def missed(samples: list[Sample], boxes_of) -> list[str]:
    out = []
    for s in samples:
        boxes = boxes_of(s)
        out += [f"{s.variant}/{s.photo} face #{i} (centre {f.cx:.0f},{f.cy:.0f}, {f.w:.0f} px)"
                for i, f in enumerate(s.faces) if not any(found(f, b) for b in boxes)]
    return out


def default_options():
    from pipeline.config import DEFAULTS
    from processors.face_detect import DetectOptions

    # The detector a fresh workspace uses (pipeline.toml's documented default).
    return DetectOptions(detector=DEFAULTS["faces"]["detector"])


@pytest.mark.parametrize("variant", VARIANTS)
def test_default_detector_finds_every_labelled_face(stress_set, variant):
    from processors.face_detect import detect_faces

    options = default_options()
    assert missed(stress_set[variant], lambda s: detect_faces(s.rgb, options)) == []


def test_stress_set_is_hard_for_hog_alone(stress_set):
    """The same images and criterion do catch a detector that misses small and tilted faces, so the
    test above is not passing because the stress set or the criterion is too lenient."""
    from processors.face_detect import DetectOptions, detect_faces

    hog = DetectOptions(detector="hog")
    small = missed(stress_set["scale0.75"], lambda s: detect_faces(s.rgb, hog))
    tilted = missed(stress_set["rot-25"], lambda s: detect_faces(s.rgb, hog))
    assert len(small) >= 5 and len(tilted) >= 1, (small, tilted)


def test_pipeline_process_reports_every_tilted_and_small_face(stress_set, cli, workspace, tmp_path):
    """The issue's own measure: the boxes of `pipeline process --json` ([top, right, bottom, left]
    in the photo's coordinates) with the default configuration."""
    photos = tmp_path / "photos"
    photos.mkdir()
    samples = stress_set["rot+25"] + stress_set["scale0.75"]
    for s in samples:
        (photos / s.file_name).write_bytes(s.jpeg)
    result = cli("process", photos, "--json", workspace=workspace, expect=0)
    records = {Path(r["source"]).name: r for r in json_lines(result.stdout)}
    assert sorted(records) == sorted(s.file_name for s in samples)
    assert missed(samples, lambda s: [tuple(f["box"]) for f in records[s.file_name]["faces"]]) == []


def test_merged_face_box_covers_every_pass_and_uses_the_sharpest_landmarks():
    """One face seen by several passes: reported once, with a box covering every pass's box of it
    (what is redacted), and the upright pass's landmarks when it saw the whole face."""
    import numpy as np

    from processors.face_detect import Detection, _merge

    lm_up, lm_turned = np.full((5, 2), 1.0), np.full((5, 2), 2.0)
    upright = Detection((100, 300, 300, 100), 0.90, "centerface", 2.0, lm_up)
    turned = Detection((90, 310, 320, 95), 0.95, "centerface@+25", 5.0, lm_turned)
    other = Detection((400, 700, 600, 500), 0.80, "centerface@-25", -20.0, lm_turned)
    merged = _merge([upright, turned, other])
    assert len(merged) == 2
    face = next(d for d in merged if d.box[0] < 200)
    assert face.box == (90, 310, 320, 95)          # covers both passes' boxes
    assert face.landmarks is lm_up and face.angle == 2.0
    assert next(d for d in merged if d is not face).box == other.box  # a face only a turned pass saw

    # an upright box that is only part of a large face (the turned pass boxed it whole): the
    # whole box is kept, and the part's landmarks are not used when the whole one is the surer
    part = Detection((200, 600, 600, 200), 0.93, "centerface", 0.0, lm_up)
    whole = Detection((100, 700, 700, 100), 0.94, "centerface@+25", 1.0, lm_turned)
    (face,) = _merge([part, whole])
    assert face.box == (100, 700, 700, 100) and face.landmarks is lm_turned


def test_a_box_between_two_neighbouring_faces_widens_only_the_one_it_overlaps_most():
    """rot+25 of 2008_002079.jpg: two faces side by side, and a turned pass's box of the right one
    that also counts as the left one (its centre lies just inside). It used to widen the left face's
    box over both faces (more than 4x the face: "not found" by the recall criterion)."""
    from processors.face_detect import Detection, _merge

    left = Detection((175, 487, 221, 448), 0.82, "centerface@-25")
    right = Detection((158, 529, 223, 475), 0.78, "centerface")
    between = Detection((157, 532, 219, 467), 0.54, "centerface@+25")  # the right face, seen turned
    merged = {d.box[3] < 460: d for d in _merge([left, right, between])}
    assert merged[True].box == left.box
    assert merged[False].box == (157, 532, 223, 467)
