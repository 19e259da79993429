"""Turn a face box into a 128-number dlib descriptor used for matching against the register."""
from __future__ import annotations

import numpy as np

from processors import dlib_models
from processors.face_detect import Box


def box_size(box: Box) -> int:
    top, right, bottom, left = box
    return min(bottom - top, right - left)


def encode_face(rgb: np.ndarray, box: Box, min_size: int = 0, jitters: int = 0) -> np.ndarray | None:
    """Descriptor for the face in ``box``, or None when the face is too small to recognise."""
    import dlib

    if box_size(box) < min_size:
        return None
    top, right, bottom, left = box
    rect = dlib.rectangle(int(left), int(top), int(right), int(bottom))
    shape = dlib_models.load("landmarks_5")(rgb, rect)
    descriptor = dlib_models.load("recognition").compute_face_descriptor(rgb, shape, jitters)
    return np.asarray(descriptor, dtype=np.float64)


def encode_faces(rgb: np.ndarray, boxes: list[Box], min_size: int = 0) -> list[np.ndarray | None]:
    return [encode_face(rgb, box, min_size) for box in boxes]
