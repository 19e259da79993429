"""Find every face in an image (dlib). Recall is the safety property: a missed face is a published child.

Boxes are ``(top, right, bottom, left)`` in pixel coordinates of the image given.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from processors import dlib_models

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class DetectOptions:
    upsample: int = 1


def detect_faces(rgb: np.ndarray, options: DetectOptions = DetectOptions()) -> list[Box]:
    """Return face boxes found in an RGB uint8 array."""
    detector = dlib_models.load("hog_detector")
    rects = detector(rgb, options.upsample)
    h, w = rgb.shape[:2]
    boxes = []
    for r in rects:
        top, right, bottom, left = max(r.top(), 0), min(r.right(), w - 1), min(r.bottom(), h - 1), max(r.left(), 0)
        if bottom > top and right > left:
            boxes.append((top, right, bottom, left))
    return boxes
