"""The text detector in 8-bit integers: faster than the float model (~2.9x on a CPU with 8-bit
dot-product instructions, AVX-VNNI or AVX512-VNNI; ~1.4x on one with AVX2 only).

Built once per machine from the float PP-OCRv4 detector inside the ``rapidocr-onnxruntime``
wheel (its graph first rewritten exactly for quantisation, :mod:`processors.text.det_graph`; then ONNX Runtime's
QDQ quantisation, weights per channel in 7 bits, activations per tensor) and cached
like the other derived models (:mod:`processors.model_cache`). The activation ranges are
measured at build time on synthetic calibration images made here (lines of letters in Pillow's
built-in font on smooth and noisy backgrounds, light and dark, turned) — never on photos.
``session()`` returns None when the build fails, and the float model runs alone.

Why 7-bit weights (``reduce_range``): without 8-bit dot-product instructions ONNX Runtime multiplies
8-bit activations by 8-bit weights in 16-bit sums that saturate, so results depended on the CPU;
7-bit weights cannot overflow there and give the same integers on every CPU. On 7 scene sets of
``benchmarks/text_reading.py`` (304 names) it redacted 301 on an AVX2-only AMD EPYC, 0 harmless
lines touched.
"""
from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

_BUILD_VERSION = "5"             # 2: graph simplified before quantisation (det_graph); 3: 7-bit weights;
                                 # 4: det_graph.for_int8 (hard-swish spelled, head at 1/4 resolution);
                                 # 5: the photo's bytes as input (det_graph.uint8_input)
_CALIBRATION_IMAGES = 8
_local = threading.local()


def session(det_path: Path):
    """The int8 detector's ONNX Runtime session for this thread, or None. It takes the photo's bytes
    (``det_graph.uint8_input``; BGR, N×3×H×W) and gives the map at a quarter of the resolution in 16
    channels: pass it through ``det_graph.head_map``."""
    if not hasattr(_local, "session"):
        _local.session = _load(det_path)
    return _local.session


def _load(det_path: Path):
    from processors.model_cache import load_or_build, onnx_session

    try:
        return load_or_build("ppocr_det_int8", det_path, _BUILD_VERSION, lambda: _build(det_path), onnx_session)
    except Exception as exc:  # slower, never less careful: the float model runs alone
        log.info("the int8 text detector could not be built (%s); using the float model", exc)
        return None


def calibration_inputs(count: int = _CALIBRATION_IMAGES, seed: int = 7) -> list[np.ndarray]:
    """Detector inputs (1x3xHxW, -1..1, BGR order) of synthetic scenes with text."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    rng = np.random.default_rng(seed)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 "
    out = []
    for i in range(count):
        w, h = (640, 480) if i % 2 else (480, 640)
        base = rng.integers(0, 256, size=3)
        grad = np.linspace(0, 1, w)[None, :, None] * rng.integers(-80, 80, size=3)
        arr = np.clip(base + grad + rng.normal(0, 6 + 20 * (i % 3 == 0), size=(h, w, 3)), 0, 255).astype(np.uint8)
        img = Image.fromarray(arr).filter(ImageFilter.GaussianBlur(1 + i % 2))
        for _ in range(int(rng.integers(3, 8))):
            size = int(rng.integers(10, 60))
            font = ImageFont.load_default(size=size)
            text = "".join(rng.choice(list(letters), size=int(rng.integers(3, 16))))
            card = Image.new("RGBA", (size * len(text), size * 2), (0, 0, 0, 0))
            ink = tuple(int(v) for v in (255 - base if rng.random() < 0.8 else rng.integers(0, 256, size=3))) + (255,)
            ImageDraw.Draw(card).text((size // 2, size // 3), text, font=font, fill=ink)
            card = card.rotate(float(rng.uniform(-35, 35)), expand=True, resample=Image.Resampling.BICUBIC)
            img.paste(card, (int(rng.integers(-card.width // 4, w - card.width // 2)),
                             int(rng.integers(0, max(1, h - card.height // 2)))), card)
        x = np.asarray(img.convert("RGB"))[:, :, ::-1].astype(np.float32) * (2.0 / 255.0) - 1.0
        out.append(np.ascontiguousarray(x.transpose(2, 0, 1)[None]))
    return out


def _build(det_path: Path) -> bytes:
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from processors.text import det_graph

    model = onnx.load(str(det_path))
    name = model.graph.input[0].name
    inputs = calibration_inputs()

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(inputs)

        def get_next(self):
            x = next(self._it, None)
            return None if x is None else {name: x}

    logging.disable(logging.WARNING)   # the quantiser's advice goes to the root logger
    try:
        with tempfile.TemporaryDirectory() as tmp:
            a, b, c = (str(Path(tmp) / n) for n in ("opset.onnx", "pre.onnx", "int8.onnx"))
            model = version_converter.convert_version(model, det_graph.OPSET)  # (the file is opset 12)
            det_graph.for_int8(model)
            onnx.save(model, a)
            quant_pre_process(a, b, skip_symbolic_shape=True)
            quantize_static(b, c, Reader(), quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
            quantised = onnx.load(c)
            det_graph.after_quantisation(quantised)
            det_graph.uint8_input(quantised)
            return quantised.SerializeToString()
    finally:
        logging.disable(logging.NOTSET)
