"""Read the lines of text in a photo on CPU: PP-OCR's detector and recogniser on ONNX Runtime.

The models ship inside the ``rapidocr-onnxruntime`` wheel (PP-OCRv4 detection and recognition);
nothing is downloaded. The detector runs on a copy of the photo reduced to ``DETECT_LONG_EDGE``, or
to ``MIN_DETECT_SCALE`` of its size when that is larger (text of about 14 px letter height at the
working resolution still comes out as a line); the
recogniser then reads only the detected lines, each cut out of the full-resolution photo and
straightened (lines turned up to ±30° and more come out level). Boxes that are clearly not a
line of legible text (too small, much taller than wide) are skipped before recognition.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from processors.text import det_graph, det_int8

DETECT_LONG_EDGE = 960      # px: the detector's input (the photo is reduced to this first); see README
# ...but never by more than this factor of the working resolution: at 960 px a 2,000-3,000-px photo's
# 14-18 px letters turned by 25-30 degrees came out as nothing, or as a line cut short ("Amelia Hat",
# "Priya Raghun"), so the family name was published; at 0.7x all of them were read (names
# drawn on 2,000-3,000-px photos and 4,032-px phone photos, which are worked on at 2,016 px).
# Costs ~2x the detector's time on such photos, nothing on photos up to 1,371 px. Larger photos are
# taken at the size they are released at (2,048 px by default): the detector's copy is at most
# 0.7 x 2,048 = 1,434 px (a 6,000 x 4,000 PNG at 4,200 px made the process peak 0.8 GB; at 1,434 px
# the 3,000-px cases above were still all read).
MIN_DETECT_SCALE = 0.7
RELEASE_EDGE = 2048
MIN_LINE_HEIGHT = 8         # px at the working resolution: below this nothing is legible
DETECT_BOX_THRESHOLD = 0.35  # the detector's mean score inside a box (rapidocr's default is 0.5)

USE_INT8 = True             # the detector's int8 copy (processors.text.det_int8), float when unavailable

_local = threading.local()


class TextModelMissing(RuntimeError):
    """The OCR models are not installed."""


@dataclass
class TextLine:
    """One detected line: its quadrilateral (tl, tr, br, bl in image pixels), text, score, and
    per-character quadrilaterals when the recogniser gave them (same length as ``text``)."""

    polygon: np.ndarray          # (4, 2) float32
    text: str
    score: float
    char_polygons: list | None = None

    @property
    def height(self) -> float:
        p = self.polygon
        return float(max(np.linalg.norm(p[0] - p[3]), np.linalg.norm(p[1] - p[2])))

    @property
    def width(self) -> float:
        p = self.polygon
        return float(max(np.linalg.norm(p[0] - p[1]), np.linalg.norm(p[3] - p[2])))


def model_dir() -> Path:
    try:
        import rapidocr_onnxruntime
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise TextModelMissing("The text-reading package 'rapidocr-onnxruntime' is not installed; "
                               "run scripts/setup again.") from exc
    return Path(rapidocr_onnxruntime.__file__).resolve().parent / "models"


def _engines():
    """``(detector, recogniser, word_boxes)``, loaded once per process and thread, one thread each."""
    eng = getattr(_local, "engines", None)
    if eng is None:
        from rapidocr_onnxruntime.cal_rec_boxes import CalRecBoxes
        from rapidocr_onnxruntime.ch_ppocr_det import TextDetector
        from rapidocr_onnxruntime.ch_ppocr_rec import TextRecognizer

        models = model_dir()
        det_path, rec_path = models / "ch_PP-OCRv4_det_infer.onnx", models / "ch_PP-OCRv4_rec_infer.onnx"
        for p in (det_path, rec_path):
            if not p.is_file():
                raise TextModelMissing(f"The text model {p} is missing; reinstall 'rapidocr-onnxruntime'.")
        common = {"intra_op_num_threads": 1, "inter_op_num_threads": 1, "use_cuda": False, "use_dml": False}
        with _our_sessions():
            det = TextDetector({**common, "model_path": str(det_path), "limit_side_len": DETECT_LONG_EDGE,
                            "limit_type": "max", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
                                "thresh": 0.25, "box_thresh": DETECT_BOX_THRESHOLD, "max_candidates": 1000,
                                "unclip_ratio": 1.6, "use_dilation": True, "score_mode": "fast"})
            rec = TextRecognizer({**common, "model_path": str(rec_path), "rec_img_shape": [3, 48, 320], "simplify": True,
                                  "rec_batch_num": 8})
        eng = _local.engines = (det, rec, CalRecBoxes())
    return eng


class _Session:
    """The pipeline's ONNX Runtime session (one thread, memory arena on: ~20 % faster here than
    rapidocr's arena-less session) behind the small interface rapidocr's classes call; created on
    first use (the float detector is not needed while its int8 copy runs)."""

    def __init__(self, config: dict):
        self._path = Path(config["model_path"])
        self._simplify = bool(config.get("simplify"))
        self._session = None

    @property
    def session(self):
        if self._session is None:
            from processors.model_cache import load_or_build, onnx_session

            # Through the model cache (a copy of the file, keyed by its content) so the session starts
            # from the saved optimised graph (processors.model_cache). The recogniser's graph is first
            # simplified exactly (processors.text.det_graph.simplify: 16 % faster, outputs within 2e-6).
            path = self._path
            version, build = ("2", lambda: _simplified(path)) if self._simplify else ("1", path.read_bytes)
            self._session = load_or_build(f"ppocr-{path.stem}", path, version, build, onnx_session)
        return self._session

    def __call__(self, data):
        return self.session.run(None, {self.session.get_inputs()[0].name: data})

    def have_key(self, key: str = "character") -> bool:
        return key in self.session.get_modelmeta().custom_metadata_map

    def get_character_list(self, key: str = "character") -> list[str]:
        return self.session.get_modelmeta().custom_metadata_map[key].splitlines()


def _simplified(path: Path) -> bytes:
    """The model at ``path`` with det_graph's exact simplifications (at opset 14, for ``HardSwish``)."""
    import onnx
    from onnx import version_converter

    model = version_converter.convert_version(onnx.load(str(path)), det_graph.OPSET)
    det_graph.simplify(model)
    return model.SerializeToString()


_construct = threading.Lock()


class _our_sessions:
    """While rapidocr's detector and recogniser are built, they get :class:`_Session`s."""

    def __enter__(self):
        import rapidocr_onnxruntime.ch_ppocr_det.text_detect as det_module
        import rapidocr_onnxruntime.ch_ppocr_rec.text_recognize as rec_module

        _construct.acquire()
        self._modules = (det_module, rec_module)
        self._saved = [m.OrtInferSession for m in self._modules]
        for m in self._modules:
            m.OrtInferSession = _Session
        return self

    def __exit__(self, *exc):
        for m, original in zip(self._modules, self._saved):
            m.OrtInferSession = original
        _construct.release()
        return False


def warm() -> None:
    """Load the text models now (worker start-up, or ``scripts/setup`` building the int8 detector
    once), so the first photo does not pay for it."""
    _engines()
    if USE_INT8:
        det_int8.session(model_dir() / "ch_PP-OCRv4_det_infer.onnx")


def detect_lines(rgb: np.ndarray, long_edge: int = DETECT_LONG_EDGE) -> list[np.ndarray]:
    """Quadrilaterals of the text lines in ``rgb`` (full-resolution coordinates), detected on a
    copy whose long edge is at most ``long_edge`` (sides rounded to the network's multiple of 32)."""
    det, _, _ = _engines()
    h, w = rgb.shape[:2]
    scale = min(1.0, long_edge / max(h, w))
    dw, dh = max(32, int(round(w * scale / 32)) * 32), max(32, int(round(h * scale / 32)) * 32)
    small = cv2.resize(rgb, (dw, dh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    # The network's input is BGR (it was trained on OpenCV's order), planar. The int8 detector takes the
    # bytes themselves (det_graph.uint8_input); the float one takes them scaled to -1..1 in float32
    # (rapidocr's own normalisation works in float64, ~20 % of the detector's time here).
    planes = small[:, :, ::-1].transpose(2, 0, 1)[None]
    fast = det_int8.session(model_dir() / "ch_PP-OCRv4_det_infer.onnx") if USE_INT8 else None
    if fast is not None and fast.get_inputs()[0].type == "tensor(uint8)":
        x = np.ascontiguousarray(planes)
    else:
        x = np.ascontiguousarray(planes, dtype=np.float32)
        x *= 2.0 / 255.0
        x -= 1.0
    if fast is not None:
        preds = det_graph.head_map(fast.run(None, {fast.get_inputs()[0].name: x})[0])
    else:
        preds = det.infer(x)[0]
    # The post-processing maps boxes straight to the full-resolution photo (per-axis ratios).
    boxes, _ = det.postprocess_op(preds, (h, w))
    if boxes is None or len(boxes) == 0:
        return []
    boxes = det.filter_tag_det_res(boxes, (h, w))
    return [np.asarray(b, dtype=np.float32) for b in boxes]


def plausible_line(quad: np.ndarray) -> bool:
    """False for boxes that are clearly not a line of legible text: tiny, or much taller than wide
    (a letter on its own names no one)."""
    height = max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2]))
    width = max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[3] - quad[2]))
    return height >= MIN_LINE_HEIGHT and width >= 0.8 * height


def crop_line(rgb: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The line cut out of ``rgb`` and straightened (BGR, as the recogniser expects)."""
    width = int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3])))
    height = int(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2])))
    width, height = max(width, 2), max(height, 2)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    crop = cv2.warpPerspective(rgb, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE,
                               flags=cv2.INTER_CUBIC)
    return np.ascontiguousarray(crop[:, :, ::-1])


def ink_rows(crop: np.ndarray) -> tuple[float, float]:
    """``(top, bottom)`` of the letters in a straightened line crop, as fractions of its height.

    The detector's box holds a line with a margin that grows with the reduction (up to twice the
    letters' height), enough to reach the next line of a tightly set certificate; the redaction
    keeps to the run of rows that holds the most ink (Otsu's split, the rarer side is the ink) plus a fifth of the
    letters' height each side, and never cuts more than a third off either side.
    """
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    h = gray.shape[0]
    if h < 6 or gray.shape[1] < 6:
        return 0.0, 1.0
    _, binary = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    ink = binary if binary.mean() < 0.5 else 1 - binary
    rows = ink.mean(axis=1)
    present = np.nonzero(rows > max(0.02, 0.15 * float(rows.max())))[0]
    if len(present) == 0:
        return 0.0, 1.0
    # Rows of ink in runs; the line is the run with the most ink (the edge of a neighbouring line
    # caught in the box is a separate, smaller run).
    breaks = np.nonzero(np.diff(present) > max(1, round(0.06 * h)))[0]
    runs = np.split(present, breaks + 1)
    main = max(runs, key=lambda r: float(rows[r].sum()))
    top, bottom = int(main[0]), int(main[-1]) + 1
    margin = 0.2 * (bottom - top) + 1
    top_f = max(0.0, min(1 / 3, (top - margin) / h))
    bottom_f = min(1.0, max(2 / 3, (bottom + margin) / h))
    return top_f, bottom_f


def tightened(quad: np.ndarray, top: float, bottom: float) -> np.ndarray:
    """``quad`` (tl, tr, br, bl) cut to the fractions ``top..bottom`` of its height."""
    tl, tr, br, bl = quad
    return np.array([tl + (bl - tl) * top, tr + (br - tr) * top, tr + (br - tr) * bottom, tl + (bl - tl) * bottom],
                    dtype=np.float32)


def detect_edge(h: int, w: int) -> int:
    """The long edge the detector works at for an ``h``×``w`` image (see MIN_DETECT_SCALE)."""
    return max(DETECT_LONG_EDGE, int(np.ceil(MIN_DETECT_SCALE * min(max(h, w), RELEASE_EDGE))))


def read_lines(rgb: np.ndarray, *, long_edge: int | None = None) -> list[TextLine]:
    """Every line of text in ``rgb`` (H×W×3 uint8, RGB): detected at a reduced size (``detect_edge``
    unless ``long_edge`` is given), read at full size; on a photo reduced for detection, lines read with
    little confidence are looked at again close up (:func:`_second_look`)."""
    if long_edge is None:
        long_edge = detect_edge(*rgb.shape[:2])
    lines = _read(rgb, long_edge)
    h, w = rgb.shape[:2]
    if lines and long_edge / max(h, w) < ZOOM_BELOW_SCALE:
        lines = _second_look(rgb, lines)
    return lines


# The second look. On a large photo the detector's copy is reduced a lot (a 2,000-px photo to 960 px:
# 14-px letters become 7 px), and small lines then come out as fragments or misplaced boxes that the
# recogniser reads as nonsense with a low score (on the small-text scenes of
# benchmarks/text_reading.py, 3 of 40 names on 1,500-2,000-px photos). Each line read with less
# confidence than ZOOM_SCORE is looked at again: a region around it (ZOOM_PAD_X line heights left and
# right, ZOOM_PAD_Y above and below, each at most ZOOM_PAD_MAX px — a box holding two lines merged is
# tall; at least ZOOM_MIN_SIDE px a side) is detected and read at the photo's own resolution. The regions together cover at most ZOOM_MAX_SHARE of the photo (the least confident
# lines first); what the close look finds replaces the weak lines it overlaps.
ZOOM_BELOW_SCALE = 0.75
ZOOM_SCORE = 0.8
ZOOM_PAD_X = 6.0
ZOOM_PAD_Y = 2.0
ZOOM_PAD_MAX = 200
ZOOM_MIN_SIDE = 96
ZOOM_MAX_SHARE = 0.25


def _read(rgb: np.ndarray, long_edge: int) -> list[TextLine]:
    if rgb.ndim != 3 or rgb.shape[0] < 8 or rgb.shape[1] < 8:
        return []
    quads = [q for q in detect_lines(rgb, long_edge) if plausible_line(q)]
    if not quads:
        return []
    _, rec, word_boxes = _engines()
    crops = [crop_line(rgb, q) for q in quads]
    results, _ = rec(crops, return_word_box=True)
    lines = []
    try:
        detailed = word_boxes(crops, quads, results)
    except Exception:   # character positions are a refinement; the whole line is the fallback
        detailed = [[r[0], r[1], None, None, None] for r in results]
    for quad, crop, res in zip(quads, crops, detailed):
        text, score, char_boxes, chars = res[0], float(res[1]), res[2], res[3]
        quad = tightened(quad, *ink_rows(crop))
        char_polys = None
        if char_boxes and chars and len(chars) == len(text) and len(char_boxes) == len(text):
            char_polys = [np.asarray(b, dtype=np.float32) for b in char_boxes]
        lines.append(TextLine(quad, text or "", score, char_polys))
    return lines


def _second_look(rgb: np.ndarray, lines: list[TextLine]) -> list[TextLine]:
    h, w = rgb.shape[:2]
    budget = ZOOM_MAX_SHARE * h * w
    regions: list[tuple[int, int, int, int]] = []
    for line in sorted((ln for ln in lines if _doubtful(ln)), key=lambda ln: (ln.score, len(ln.text))):
        box = _zoom_region(line, w, h)
        if any(_inside(box, r) for r in regions):
            continue
        area = (box[2] - box[0]) * (box[3] - box[1])
        if area > budget:
            continue
        budget -= area
        regions.append(box)
    if not regions:
        return lines
    found: list[TextLine] = []
    for x0, y0, x1, y1 in regions:
        for line in _read(np.ascontiguousarray(rgb[y0:y1, x0:x1]), max(x1 - x0, y1 - y0)):
            offset = np.array([x0, y0], dtype=np.float32)
            found.append(TextLine(line.polygon + offset, line.text, line.score,
                                  None if line.char_polygons is None else [p + offset for p in line.char_polygons]))
    if not found:
        return lines
    kept = [ln for ln in lines if not _doubtful(ln) or not any(_overlap(ln, f) for f in found)]
    return kept + [f for f in found if not any(_overlap(f, k) and not _doubtful(k) for k in kept)]


def _doubtful(line: TextLine) -> bool:
    """Read with little confidence. (Looking again at single words too, since the detector also splits
    small lines into words and loses some, found one more small name but lost three on the ordinary
    scenes: the close look is not always the better reading.)"""
    return line.score < ZOOM_SCORE


def _zoom_region(line: TextLine, w: int, h: int) -> tuple[int, int, int, int]:
    p = line.polygon
    height = max(line.height, 4.0)
    pad_x, pad_y = min(ZOOM_PAD_X * height, ZOOM_PAD_MAX), min(ZOOM_PAD_Y * height, ZOOM_PAD_MAX / 2)
    x0, y0 = p[:, 0].min() - pad_x, p[:, 1].min() - pad_y
    x1, y1 = p[:, 0].max() + pad_x, p[:, 1].max() + pad_y
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half_w, half_h = max(x1 - x0, ZOOM_MIN_SIDE) / 2, max(y1 - y0, ZOOM_MIN_SIDE) / 2
    return (max(0, int(cx - half_w)), max(0, int(cy - half_h)), min(w, int(cx + half_w) + 1), min(h, int(cy + half_h) + 1))


def _inside(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] >= b[0] and a[1] >= b[1] and a[2] <= b[2] and a[3] <= b[3]


def _overlap(a: TextLine, b: TextLine) -> bool:
    """The two lines' quadrilaterals share at least half of the smaller one. (Their turned shapes, not
    their axis-aligned bounds: the bounds of a line turned by 20-30 degrees take in most of the line
    beside it, and a correct close reading of a name was dropped as that neighbour's duplicate.)"""
    pa, pb = a.polygon.astype(np.float32), b.polygon.astype(np.float32)
    small = min(abs(cv2.contourArea(pa)), abs(cv2.contourArea(pb)))
    if small <= 0:
        return False
    inter, _ = cv2.intersectConvexConvex(pa, pb)
    return inter >= 0.5 * small
