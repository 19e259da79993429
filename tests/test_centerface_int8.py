"""The int8 screen of CenterFace finds every face the float model finds (its only job is speed)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from processors import centerface, centerface_int8
from processors.face_detect import DetectOptions, _scale_for, _turn
from tests.conftest import fixtures_dir


def _package_photos() -> list[np.ndarray]:
    """The two faces that ship in packages, at full, half and quarter size (faces of ~30-200 px)."""
    import cv2
    import matplotlib
    import skimage
    from PIL import Image

    photos = [np.asarray(Image.open(p).convert("RGB")) for p in (
        Path(skimage.__file__).parent / "data" / "astronaut.png",
        Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")]
    return [np.ascontiguousarray(cv2.resize(p, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)) if f != 1 else p
            for p in photos for f in (1, 0.5, 0.25)]


def _fixture_photos(angles: tuple[float, ...]) -> list[np.ndarray]:
    """The 9 group photos, each also turned by ``angles`` as the recall benchmark turns them (the
    detector's passes then turn them again)."""
    from PIL import Image

    groups = fixtures_dir("faces", "groups")
    photos = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(groups.glob("*.jpg"))]
    return [x for rgb in photos for x in [rgb] + [np.ascontiguousarray(_turn(rgb, a, 1.0)[0]) for a in angles]]


def _pass_images(rgb: np.ndarray) -> list[np.ndarray]:
    """What each of the detector's CenterFace passes gives the network (the upright pass at its
    working size, the turned passes at theirs)."""
    import cv2

    o = DetectOptions()
    scale = _scale_for(rgb, o.upright_megapixels)
    upright = rgb if scale == 1 else cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)),
                                                interpolation=cv2.INTER_AREA)
    turned = [_turn(rgb, a, min(o.turned_scale, _scale_for(rgb, o.turned_megapixels)))[0] for a in o.angles]
    return [np.ascontiguousarray(x) for x in (upright, *turned)]


def _covers(box, boxes) -> bool:
    """``box`` (x1, y1, x2, y2) is one of ``boxes``: overlapping well, or its centre inside one."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    for b in boxes:
        inter = max(0, min(box[2], b[2]) - max(box[0], b[0])) * max(0, min(box[3], b[3]) - max(box[1], b[1]))
        union = (box[2] - box[0]) * (box[3] - box[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        if inter / union >= 0.3 or (b[0] <= cx <= b[2] and b[1] <= cy <= b[3]):
            return True
    return False


def _lost(images: list[np.ndarray], threshold: float) -> tuple[int, list]:
    """(float detections over every pass of ``images``, those the screened detector does not report)."""
    total, lost = 0, []
    for rgb in images:
        for img in _pass_images(rgb):
            reference, ref_scores, _ = centerface.detect(img, threshold)
            screened, _, _ = centerface.detect(img, threshold, fast=centerface_int8.session())
            total += len(reference)
            lost += [round(float(s), 3) for b, s in zip(reference, ref_scores) if not _covers(b, screened)]
    return total, lost


@pytest.fixture(scope="module", autouse=True)
def _int8_available():
    assert centerface_int8.session() is not None, "the int8 model should build from the shipped ranges"


def test_screen_finds_every_face_the_float_model_finds_on_package_photos():
    total, lost = _lost(_package_photos(), 0.5)
    assert total >= 15 and lost == []  # (17 detections at the passes' sizes of 2026-12-02)


def test_the_float_models_second_look_on_a_crop_finds_what_it_finds_on_the_whole_image(monkeypatch):
    monkeypatch.setattr(centerface, "SURE_MARGIN", 1.0)  # every candidate goes to the second look
    total, lost = _lost(_package_photos(), 0.5)
    assert total >= 15 and lost == []  # (17 detections at the passes' sizes of 2026-12-02)


@pytest.mark.fixtures
@pytest.mark.slow
def test_screen_finds_every_face_the_float_model_finds_on_group_photos():
    """The photos it was never calibrated on: 9 group photos, each also turned by ±15° and ±35°,
    through all three passes (hundreds of faces of 10-110 px)."""
    total, lost = _lost(_fixture_photos((15, -15, 35, -35)), 0.5)
    assert total >= 300 and lost == []


@pytest.mark.fixtures
@pytest.mark.slow
def test_the_second_look_alone_finds_what_the_float_model_finds_on_group_photos(monkeypatch):
    monkeypatch.setattr(centerface, "SURE_MARGIN", 1.0)  # every candidate goes to the second look
    total, lost = _lost(_fixture_photos(()), 0.5)
    assert total >= 60 and lost == []


def test_when_the_crops_would_be_large_the_float_model_looks_at_the_whole_image(monkeypatch):
    monkeypatch.setattr(centerface, "MAX_CROP_SHARE", 0.0)
    monkeypatch.setattr(centerface, "SURE_MARGIN", 1.0)
    total, lost = _lost(_package_photos(), 0.5)
    assert total >= 15 and lost == []  # (17 detections at the passes' sizes of 2026-12-02)


def test_crops_sit_on_the_networks_grid_inside_the_image():
    for box, (w, h) in [((10, 12, 30, 40), (500, 375)), ((470, 350, 499, 374), (500, 375)),
                        ((100.5, 200.2, 180.9, 290.0), (1000, 700)), ((0, 0, 5, 5), (64, 64))]:
        x1, y1, x2, y2 = centerface.crop_around(box, w, h)
        assert x1 % 32 == 0 and y1 % 32 == 0
        assert 0 <= x1 <= box[0] and 0 <= y1 <= box[1] and box[2] <= x2 <= w and box[3] <= y2 <= h
        side = max(box[2] - box[0], box[3] - box[1])
        assert x1 <= max(0, box[0] - 2 * side) and y1 <= max(0, box[1] - 2 * side)


def test_ranges_measured_on_another_model_file_leave_the_float_model_alone(tmp_path, monkeypatch):
    table = json.loads(centerface_int8.RANGES.read_text(encoding="utf-8"))
    table["model_sha256"] = "0" * 64
    other = tmp_path / "centerface_int8.json"
    other.write_text(json.dumps(table), encoding="utf-8")
    monkeypatch.setattr(centerface_int8, "RANGES", other)
    monkeypatch.setattr(centerface_int8, "_local", type(centerface_int8._local)())
    assert centerface_int8.session() is None
    rgb = _package_photos()[1]
    screened = centerface.detect(rgb, 0.5, 0.5, fast=centerface_int8.session())
    alone = centerface.detect(rgb, 0.5, 0.5)
    assert len(alone[0]) >= 1 and all(np.array_equal(a, b) for a, b in zip(screened, alone))


def test_shipped_ranges_belong_to_the_installed_model_and_cover_its_activations():
    table = json.loads(centerface_int8.RANGES.read_text(encoding="utf-8"))
    assert centerface_int8.load_ranges(centerface.model_path()) is not None
    ranges = table["ranges"]
    assert len(ranges) > 100 and all(hi > lo for lo, hi in ranges.values())
