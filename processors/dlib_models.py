"""Locate and load dlib's models (shipped by the ``face_recognition_models`` package).

``face_recognition_models/__init__.py`` imports ``pkg_resources``, which current
setuptools no longer ships. We never execute that module: we find the package
folder with ``importlib.util.find_spec`` and load the ``.dat`` files ourselves.
``ensure_pkg_resources()`` installs a minimal stand-in for code that *does*
import the package (the ``face_recognition`` library used by tests and
benchmarks as an independent recogniser).
"""
from __future__ import annotations

import importlib.resources
import importlib.util
import sys
import types
import warnings
from functools import lru_cache
from pathlib import Path

MODELS = {
    "landmarks_68": "shape_predictor_68_face_landmarks.dat",
    "landmarks_5": "shape_predictor_5_face_landmarks.dat",
    "recognition": "dlib_face_recognition_resnet_model_v1.dat",
    "cnn_detector": "mmod_human_face_detector.dat",
}


class ModelsMissing(RuntimeError):
    pass


def models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelsMissing(
            "The face models are not installed. Run the setup command from the README "
            "(it installs the 'face_recognition_models' package)."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def model_path(name: str) -> str:
    path = models_dir() / MODELS[name]
    if not path.is_file():
        raise ModelsMissing(f"The face model file {path} is missing; reinstall face_recognition_models.")
    return str(path)


@lru_cache(maxsize=None)
def load(name: str):
    import dlib

    if name == "hog_detector":
        return dlib.get_frontal_face_detector()
    if name in ("landmarks_68", "landmarks_5"):
        return dlib.shape_predictor(model_path(name))
    if name == "recognition":
        return dlib.face_recognition_model_v1(model_path(name))
    if name == "cnn_detector":
        return dlib.cnn_face_detection_model_v1(model_path(name))
    raise KeyError(name)


def ensure_pkg_resources() -> None:
    """Make ``import face_recognition_models`` work without setuptools' pkg_resources."""
    if "pkg_resources" in sys.modules:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import pkg_resources  # noqa: F401
            return
        except ImportError:
            pass
    shim = types.ModuleType("pkg_resources")

    def resource_filename(package: str, resource: str) -> str:
        return str(importlib.resources.files(package).joinpath(resource))

    shim.resource_filename = resource_filename  # type: ignore[attr-defined]
    sys.modules["pkg_resources"] = shim
