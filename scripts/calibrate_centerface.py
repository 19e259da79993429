"""Measure the activation ranges of CenterFace for its int8 screen (processors/centerface_int8.py).

    .venv/bin/python scripts/calibrate_centerface.py      # rewrites processors/data/centerface_int8.json

Run it only when the CenterFace model file changes (the pipeline then falls back to the float
model until it is run: the table records the SHA-256 of the model it was measured on). Needs the
demo extra (scikit-image, matplotlib), whose sample photos are the calibration set: real photos
and faces that ship inside packages, never the test photos of ../shared. Every photo is given to
the network as the detector's passes see it: upright, and turned by ±25° on an expanded canvas
(black corners) at 0.8 of its size. Deterministic: the same packages give the same table.
"""
from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from processors import centerface, centerface_int8  # noqa: E402
from processors.face_detect import DetectOptions, _turn  # noqa: E402

# scikit-image sample photos bundled in its wheel (no download).
SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "cat", "camera", "hubble_deep_field",
                  "immunohistochemistry", "retina", "colorwheel", "logo")


def photos() -> list[np.ndarray]:
    import matplotlib
    import skimage.data
    from PIL import Image

    out = []
    for name in SKIMAGE_PHOTOS:
        try:
            img = np.asarray(getattr(skimage.data, name)())
        except Exception as exc:  # not bundled in this version (would need a download)
            print(f"skipping skimage.data.{name}: {exc}", file=sys.stderr)
            continue
        out.append(_rgb(img))
    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    out.append(np.asarray(Image.open(hopper).convert("RGB")))
    # A mosaic of 100 faces of scikit-image's LFW subset (25x25 grey crops, shown at 50x50).
    faces = skimage.data.lfw_subset()[:100]
    tiles = [np.asarray(Image.fromarray((np.clip(f, 0, 1) * 255).astype(np.uint8)).resize((50, 50))) for f in faces]
    out.append(_rgb(np.vstack([np.hstack(tiles[r * 10:(r + 1) * 10]) for r in range(10)])))
    return out


def _rgb(img: np.ndarray) -> np.ndarray:
    if img.dtype != np.uint8:
        img = (np.clip(img, 0, 1) * 255).astype(np.uint8) if img.max() <= 1 else img.astype(np.uint8)
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=2)
    return np.ascontiguousarray(img[..., :3])


def blob(img: np.ndarray) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    img = cv2.copyMakeBorder(img, 0, -(-h // 32) * 32 - h, 0, -(-w // 32) * 32 - w, cv2.BORDER_CONSTANT, value=0)
    return np.ascontiguousarray(img.transpose(2, 0, 1)[None].astype(np.float32))


class Reader:
    """ONNX Runtime's CalibrationDataReader protocol over the calibration inputs."""

    def __init__(self, images: list[np.ndarray]):
        opts = DetectOptions()
        self.inputs = []
        for img in images:
            self.inputs.append(blob(img))
            for angle in opts.angles:
                self.inputs.append(blob(_turn(img, angle, opts.turned_scale)[0]))
        self._it = iter(self.inputs)

    def get_next(self):
        x = next(self._it, None)
        return None if x is None else {"input.1": x}

    def __len__(self):
        return len(self.inputs)


def main() -> int:
    images = photos()
    reader = Reader(images)
    print(f"calibrating on {len(images)} photos, {len(reader)} inputs", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "ranges.json"
        centerface_int8.quantize(centerface_int8.prepared_float_model(), Path(tmp) / "q.onnx",
                                 reader=reader, cache=cache)
        data = json.loads(cache.read_text())["data"]
    ranges = {}
    for name, entry in sorted(data.items()):
        lo, hi = entry["lowest"], entry["highest"]
        ranges[name] = [float(np.asarray(_value(lo)).ravel()[0]), float(np.asarray(_value(hi)).ravel()[0])]
    table = {
        "about": "Activation ranges (min, max) of CenterFace for its int8 screen; written by "
                 "scripts/calibrate_centerface.py from sample photos that ship in scikit-image and matplotlib.",
        "model_sha256": hashlib.sha256(centerface.model_path().read_bytes()).hexdigest(),
        "calibration_inputs": len(reader),
        "ranges": ranges,
    }
    centerface_int8.RANGES.parent.mkdir(exist_ok=True)
    ranges_text = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in ranges.items())
    head = json.dumps({k: v for k, v in table.items() if k != "ranges"}, indent=1)[:-2]
    centerface_int8.RANGES.write_text(f'{head},\n "ranges": {{\n{ranges_text}\n }}\n}}\n', encoding="utf-8")
    print(f"wrote {len(ranges)} ranges to {centerface_int8.RANGES}", file=sys.stderr)
    return 0


def _value(v):
    """A value in ONNX Runtime's calibration JSON (plain number or its encoded numpy array)."""
    if isinstance(v, dict):
        return np.asarray(v.get("data", v.get("array", 0)), dtype=np.float64)
    return v


if __name__ == "__main__":
    raise SystemExit(main())
