"""Turn a detected face into a 128-number dlib descriptor used for matching against the register.

dlib's 5-point landmark model expects a box shaped like its own HOG detector's, on an upright
face. Faces from the other passes (CenterFace, turned images) are therefore encoded in an upright
patch: the patch is turned so the eyes are level, a dlib-shaped box is placed from CenterFace's
landmarks, dlib finds its 5 points there, and the points are mapped back to the original image,
where dlib cuts out its aligned 150×150 chip. dlib's recognition network turns the chips of
one image into descriptors in one run, on ONNX Runtime (:mod:`processors.dlib_resnet`: the same
network and weights, ~13× faster than the prebuilt dlib wheel). When dlib's points disagree with
CenterFace's eyes the face gets no descriptor (``None``), which the pipeline treats as
*unknown*, i.e. redacted.
"""
from __future__ import annotations

import math

import numpy as np

from processors import dlib_models, dlib_resnet
from processors.face_detect import Box, Detection

# Where dlib's HOG box sits relative to CenterFace's landmarks, in units of
# S = mean(eye distance, eye-line-to-mouth-centre distance); measured on the fixtures' faces that
# both detectors found (benchmarks/RECALL.md).
_CF_SIDE, _CF_DOWN = 2.4, 0.43
# The same relative to dlib's own 5 points, S = mean(eye distance, eye-line-to-nose distance).
_DLIB_SIDE, _DLIB_DOWN = 2.93, 0.54
# dlib's eye centres must lie within this fraction of the eye distance of CenterFace's ...
_EYE_AGREEMENT = 0.35
# ... or, on the second look, of its own first points.
_SELF_AGREEMENT = 0.2
# Faces tilted less than this (degrees) with a dlib box are encoded directly.
_UPRIGHT = 8.0


def box_size(box: Box) -> int:
    top, right, bottom, left = box
    return min(bottom - top, right - left)


def encode_detection(rgb: np.ndarray, detection: Detection, min_size: int = 0) -> np.ndarray | None:
    """Descriptor for one face from :func:`processors.face_detect.detect`, tilted or not.

    None when the face is smaller than ``min_size`` (shortest side of its box) or when its
    landmarks cannot be trusted: such a face must be treated as unknown.
    """
    return encode_detections(rgb, [detection], min_size)[0]


def encode_detections(rgb: np.ndarray, detections: list[Detection], min_size: int = 0) -> list[np.ndarray | None]:
    """Descriptors for every face of one image (None where not possible, as in
    :func:`encode_detection`); the recognition network runs once for all of them."""
    shapes = [_landmarks(rgb, d, min_size) for d in detections]
    found = [i for i, shape in enumerate(shapes) if shape is not None]
    vectors = dlib_resnet.descriptors([dlib_resnet.chip(rgb, shapes[i]) for i in found])
    out: list[np.ndarray | None] = [None] * len(detections)
    for i, vector in zip(found, vectors):
        out[i] = vector
    return out


def _landmarks(rgb: np.ndarray, detection: Detection, min_size: int):
    """dlib's 5 points for a detected face, or None (too small, or landmarks not trusted)."""
    if box_size(detection.box) < min_size:
        return None
    lm = detection.landmarks
    if lm is None or (detection.dlib_box is not None and abs(detection.angle) < _UPRIGHT):
        if detection.dlib_box is None:
            return None
        import dlib

        top, right, bottom, left = detection.dlib_box
        return dlib_models.load("landmarks_5")(rgb, dlib.rectangle(int(left), int(top), int(right), int(bottom)))
    return _landmarks_upright(rgb, np.asarray(lm, dtype=np.float64))


def _landmarks_upright(rgb: np.ndarray, lm: np.ndarray):
    """dlib's 5 points for a face given CenterFace's landmarks, found in an upright patch and
    returned in original image coordinates; None when they cannot be trusted.

    Trusted when dlib's eyes agree with CenterFace's; CenterFace's landmarks are rough on strongly
    tilted faces, so otherwise dlib looks again in a patch levelled by its own eyes, and its points
    are trusted when both looks agree.
    """
    eye_l, eye_r = lm[0], lm[1]
    eyes = (eye_l + eye_r) / 2
    mouth = (lm[3] + lm[4]) / 2
    eye_dist = float(np.linalg.norm(eye_r - eye_l))
    angle = math.atan2(eye_r[1] - eye_l[1], eye_r[0] - eye_l[0])
    s = (eye_dist + float((mouth - eyes) @ _down(angle))) / 2
    if not (s > 2 and eye_dist > 1):
        return None
    first = _points_in_patch(rgb, eyes, angle, s, _CF_SIDE, _CF_DOWN)
    left, right = _eye_centres(first)
    if max(np.linalg.norm(left - eye_l), np.linalg.norm(right - eye_r)) <= _EYE_AGREEMENT * eye_dist:
        return _shape(first)
    # Second look, levelled and placed by dlib's own first points.
    d = float(np.linalg.norm(right - left))
    angle = math.atan2(right[1] - left[1], right[0] - left[0])
    middle = (left + right) / 2
    s = (d + float((first[4] - middle) @ _down(angle))) / 2
    if not (s > 2 and d > 1):
        return None
    second = _points_in_patch(rgb, middle, angle, s, _DLIB_SIDE, _DLIB_DOWN)
    left2, right2 = _eye_centres(second)
    if max(np.linalg.norm(left2 - left), np.linalg.norm(right2 - right), np.linalg.norm(second[4] - first[4])) > _SELF_AGREEMENT * d:
        return None
    return _shape(second)


def _down(angle: float) -> np.ndarray:
    """Unit vector from the eyes towards the mouth for an eye line at ``angle`` radians."""
    return np.array([-math.sin(angle), math.cos(angle)])


def _points_in_patch(rgb: np.ndarray, eyes: np.ndarray, angle: float, s: float, side: float, down: float) -> np.ndarray:
    """dlib's 5 points (original coordinates) found in a patch turned by ``angle`` around ``eyes``
    so the eye line is level, with dlib's box placed ``down``·s below the eyes, ``side``·s wide."""
    import cv2
    import dlib

    half = int(math.ceil(0.75 * side * s))
    m = cv2.getRotationMatrix2D((float(eyes[0]), float(eyes[1])), math.degrees(angle), 1.0)
    m[0, 2] += half - eyes[0]
    m[1, 2] += half - eyes[1]
    patch = cv2.warpAffine(rgb, m, (2 * half, 2 * half), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    w, cx, cy = side * s, half, half + down * s
    rect = dlib.rectangle(int(round(cx - w / 2)), int(round(cy - w / 2)), int(round(cx + w / 2)), int(round(cy + w / 2)))
    shape = dlib_models.load("landmarks_5")(np.ascontiguousarray(patch), rect)
    inverse = cv2.invertAffineTransform(m)
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64) @ inverse[:, :2].T + inverse[:, 2]


def _eye_centres(pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of dlib's two eyes (points 0-1 and 2-3 are the corners of each), image-left first
    along the face's own eye line (dlib lists the person's right eye, i.e. image right, first)."""
    return pts[2:4].mean(axis=0), pts[0:2].mean(axis=0)


def _shape(pts: np.ndarray):
    import dlib

    points = dlib.points([dlib.point(int(round(x)), int(round(y))) for x, y in pts])
    x, y = pts[:, 0], pts[:, 1]
    return dlib.full_object_detection(dlib.rectangle(int(x.min()), int(y.min()), int(x.max()), int(y.max())), points)
