"""CenterFace in 8-bit integers: the fast first look of every detector pass.

The same network with int8 weights and activations (ONNX Runtime's QDQ quantisation, weights per
channel in 7 bits, activations per tensor; the first three convolutions and the four output heads
stay float) runs ~1.7x faster than the float model on CPUs with 8-bit dot-product instructions
(AVX-VNNI, AVX512-VNNI) and ~1.35x on CPUs with AVX2 only (127 against 170 ms a megapixel on a
2-core AMD EPYC, one thread). Its scores differ a little from the float model's: on every face the
float model finds at 0.5 in the stress set and the fixture photos (1,953 detections over 173
images, upright and turned) the int8 score was at most 0.19 lower (0.21 on the AMD EPYC, 970
detections of the group photos turned by 0, ±15 and ±35 degrees through all three passes).

**7-bit weights** (``reduce_range``): CPUs without 8-bit dot-product instructions multiply 8-bit
activations by 8-bit weights into 16-bit sums that saturate. With 8-bit weights the int8 score of a
face fell up to 0.59 below the float model's there (more than the screen's margin: one face of the
group photos turned by 35 degrees was lost). 7-bit weights cannot overflow, and give the same
integers on every CPU; ``tests/test_centerface_int8.py`` checks the scores on each machine it runs on.
:mod:`processors.centerface` therefore only *screens* with it, at a threshold 0.3 below the
detector's (``SCREEN_MARGIN``), and lets the float model decide on every candidate the int8
model is not sure of (see ``centerface._screened``).

Quantisation needs the range of every activation. Those ranges are measured once, by
``scripts/calibrate_centerface.py``, on photos that ship inside packages (scikit-image's sample
images, matplotlib's Grace Hopper, scikit-image's LFW faces; never the test photos), turned by
the detector's ±25° as its passes see them, and kept in ``processors/data/centerface_int8.json``
with the SHA-256 of the model file they belong to. The int8 model is built from the float one
and those ranges on first use (a few seconds, with the ``onnx`` package) and cached like the
float model (:mod:`processors.model_cache`).

``session()`` returns None (and the detector runs the float model alone, as before) when the
ranges do not belong to the installed model file or the build fails: slower, never less careful.
"""
from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import threading
from pathlib import Path

log = logging.getLogger(__name__)

RANGES = Path(__file__).parent / "data" / "centerface_int8.json"
# Bump when _model_bytes changes what it builds, so cached copies are rebuilt.
_BUILD_VERSION = "2"
# Convolutions kept in float: the first three (their int8 kernels are no faster on 3- and
# 16-channel tensors, and they set the precision of everything after) and the four output heads.
_FLOAT_FIRST = 3
_FLOAT_HEADS = 4
# Per-channel weights need opset 13 (the model file is opset 9).
_OPSET = 13

_local = threading.local()


def session():
    """The int8 ONNX Runtime session for this thread, or None when it cannot be had."""
    if not hasattr(_local, "session"):
        _local.session = _load()
    return _local.session


def _load():
    from processors import centerface
    from processors.model_cache import load_or_build, onnx_session

    try:
        source = centerface.model_path()
        ranges = load_ranges(source)
        if ranges is None:
            return None
        version = f"{_BUILD_VERSION}-{hashlib.sha256(RANGES.read_bytes()).hexdigest()[:16]}"
        return load_or_build("centerface-int8", source, version, lambda: _model_bytes(ranges), onnx_session)
    except Exception as exc:  # an ONNX Runtime without this quantiser, a damaged file...
        log.warning("the fast (int8) face screen is not available (%s); using the float model alone", exc)
        return None


def load_ranges(source: Path) -> dict | None:
    """The shipped activation ranges, if they were measured on this very model file."""
    try:
        table = json.loads(RANGES.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("cannot read %s (%s); using the float face model alone", RANGES, exc)
        return None
    from processors.model_cache import file_digest

    digest = file_digest(source)
    if table.get("model_sha256") != digest:
        log.warning("%s was measured on another CenterFace model file; using the float face model alone",
                    RANGES.name)
        return None
    return {name: (float(lo), float(hi)) for name, (lo, hi) in table["ranges"].items()}


def prepared_float_model():
    """The float model (free sizes, constant weights) at opset 13 with every node named: what is
    calibrated and quantised. Needs ``onnx``."""
    import onnx
    from onnx import version_converter

    from processors import centerface

    model = version_converter.convert_version(onnx.load_from_string(centerface._model_bytes()), _OPSET)
    for i, node in enumerate(model.graph.node):
        node.name = node.name or f"n{i}_{node.op_type}"
    return model


def float_nodes(model) -> list[str]:
    convs = [n.name for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    return convs[:_FLOAT_FIRST] + convs[-_FLOAT_HEADS:]


def quantize(model, out: Path, *, ranges: dict | None = None, reader=None, cache: Path | None = None) -> None:
    """Write the int8 model of ``model`` to ``out``: from known ``ranges``, or calibrated with
    ``reader`` (ranges then saved to ``cache``, ONNX Runtime's JSON format)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    with tempfile.TemporaryDirectory(prefix="centerface-int8-") as tmp:
        if ranges is not None:
            import numpy as np
            from onnxruntime.quantization.calibrate import TensorsData, save_tensors_data

            cache = Path(tmp) / "ranges.json"
            table = {k: (np.array(lo, np.float32), np.array(hi, np.float32)) for k, (lo, hi) in ranges.items()}
            save_tensors_data(TensorsData(CalibrationMethod.MinMax, table), cache)
        quantize_static(model, str(out), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                        reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=float_nodes(model), calibrate_method=CalibrationMethod.MinMax,
                        calibration_cache_path=str(cache) if cache else None)


def _model_bytes(ranges: dict) -> bytes:
    with tempfile.TemporaryDirectory(prefix="centerface-int8-") as tmp:
        out = Path(tmp) / "centerface-int8.onnx"
        # ONNX Runtime's quantiser logs advice for model developers on the root logger ("consider
        # pre-processing", "axis out of range" for batch-norm weights it leaves alone): not for
        # the staff member whose first photo triggers this one-off build.
        logging.disable(logging.WARNING)
        try:
            quantize(prepared_float_model(), out, ranges=ranges)
        finally:
            logging.disable(logging.NOTSET)
        return out.read_bytes()
