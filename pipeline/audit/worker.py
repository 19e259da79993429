"""The expensive part of an audit, for one file, on a worker: read, metadata, decode, faces.

Two ways in, one analysis:

- ``analyse_file(path, settings)`` — a worker process on this computer reads the file itself
  (read-only, see ``audit_files``), so no photo travels between processes;
- ``analyse_data(data, name, settings, sha)`` — a Dask worker, which shares no folder with the
  coordinator, gets the file's bytes (for a file over the size limit, only its first
  ``METADATA_HEAD`` bytes and its hash) and never sees a path.

Either returns a small, picklable result: the content hash of exactly the bytes it analysed,
the metadata inspection and the face boxes with their encodings (raw float64 bytes). Matching
against the register is *not* done here: it is cheap, and it is what changes when consent
changes, so the coordinator does it from the cached encodings.

Faces are found with ``pipeline.analyse.find_faces`` — exactly the detection and
encoding of the release path, so the audit sees the faces the release path sees.
"""
from __future__ import annotations

import hashlib
import os

from pipeline.audit.files import read_bytes, why_unreadable

METADATA_HEAD = 4 * 1024 * 1024  # bytes read from a file too large to check, for its metadata


def settings_for(config) -> dict:
    """What a worker needs from the workspace configuration (plain, picklable)."""
    limits = config["limits"]
    return {
        "max_bytes": int(limits["max_file_mb"] * 1024 * 1024),
        "max_pixels": int(limits["max_megapixels"] * 1_000_000),
        "faces": dict(config["faces"]),
        # Decoded as the release path decodes (JPEGs DCT-scaled to what detection needs).
        "min_long_edge": int(config["output"]["max_edge"]),
        # Text in the picture is read when names in it are redacted (or all text is).
        "text": config["text"]["names"] == "redact" or bool(config["text"]["all"]),
    }


def analyse_file(path: str, settings: dict) -> dict:
    """Analyse one file this process reads itself. Never raises: a failure is an ``unreadable`` result."""
    return _guarded(_analyse_path, path, settings)


def analyse_data(data: bytes, name: str, settings: dict, sha: str | None = None, size: int | None = None) -> dict:
    """Analyse one file from its bytes (a worker that cannot see the file). Never raises.

    ``sha`` and ``size`` are given only for a file over the size limit: ``data`` is then just its
    head (for the metadata), ``sha`` the hash of the whole file, computed by the coordinator.
    """
    _setup_once()
    return _guarded(_analyse_bytes, data, name, settings, sha, size)


_ready = False


def _setup_once() -> None:
    """On a Dask worker: one thread per library (a local pool's initializer does this already)."""
    global _ready
    if not _ready:
        from pipeline.batch.executor import worker_setup

        worker_setup(single_threaded=True, warm=False)
        _ready = True


def _guarded(fn, *args) -> dict:
    try:
        return fn(*args)
    except OSError as exc:
        return unreadable_result(None, why_unreadable(exc), cacheable=False)
    except MemoryError:
        return unreadable_result(None, "the photo is too large to check on this computer", cacheable=False)
    except Exception as exc:  # never let one file stop the audit
        return unreadable_result(None, f"the photo could not be checked ({type(exc).__name__}: {exc})", cacheable=False)


def _analyse_path(path: str, settings: dict) -> dict:
    name = os.path.basename(path)
    max_bytes = settings["max_bytes"]
    follow = bool(settings.get("follow_links"))
    size = os.stat(path, follow_symlinks=follow).st_size
    if size > max_bytes:  # only the head is read (its metadata); the rest is never read (bounded cost)
        return _analyse_bytes(read_bytes(path, METADATA_HEAD, follow), name, settings, "", size)
    return _analyse_bytes(read_bytes(path, max_bytes + 1, follow), name, settings)


def _analyse_bytes(data: bytes, name: str, settings: dict, sha: str | None = None, size: int | None = None) -> dict:
    from pipeline.analyse import detector_pixels, scale_box
    from processors.decode import RejectedImage, decode_image
    from processors.metadata import inspect_metadata

    max_bytes = settings["max_bytes"]
    if sha is not None:  # over the size limit: data is the file's head, for its metadata only
        metadata = _metadata_dict(inspect_metadata(data, name))
        size_text = f"{size / 1e6:,.0f} MB; " if size else ""
        return unreadable_result(sha or None, f"the file is too large to check for faces ({size_text}the limit is "
                                      f"{max_bytes / 1e6:,.0f} MB, [limits] max_file_mb in pipeline.toml)",
                                 metadata=metadata)
    sha = hashlib.sha256(data).hexdigest()
    metadata = _metadata_dict(inspect_metadata(data, name))
    try:
        decoded = decode_image(data, name=name, max_bytes=max_bytes, max_pixels=settings["max_pixels"],
                               min_long_edge=settings.get("min_long_edge"), min_pixels=detector_pixels())
        image, fmt, scale, size = decoded.image, decoded.format, decoded.scale, decoded.original_size
    except RejectedImage as exc:
        # The release path accepts four formats; an archive also holds scans (TIFF), GIFs and BMPs,
        # which can show a child just as well. They are checked here, never released.
        other = decode_archive_format(data, settings["max_pixels"]) if exc.code == "unsupported_type" else None
        if other is None:
            return unreadable_result(sha, exc.reason, metadata=metadata)
        image, fmt = other
        scale, size = 1.0, image.size
    del data
    try:
        faces = _find_faces(image, settings["faces"])
        if scale != 1.0:  # boxes in the coordinates of the whole picture, as the release path records them
            for f in faces:
                f["box"] = list(scale_box(f["box"], 1.0 / scale, size))
    except MemoryError:
        raise
    except Exception as exc:
        return unreadable_result(sha, f"the photo could not be checked for faces ({exc})", metadata=metadata,
                                 cacheable=False)
    if settings.get("text"):
        try:
            metadata["picture_texts"] = _read_picture_text(image, scale)
        except MemoryError:
            raise
        except Exception as exc:
            return unreadable_result(sha, f"the text in the photo could not be read ({exc})", metadata=metadata,
                                     cacheable=False)
    return {"sha256": sha, "outcome": "checked", "error": None, "format": fmt,
            "width": size[0], "height": size[1], "faces": faces, "metadata": metadata,
            "cacheable": True}


ARCHIVE_FORMATS = ["TIFF", "GIF", "BMP"]


def decode_archive_format(data: bytes, max_pixels: int):
    """``(RGB image with EXIF orientation applied, format)`` for a TIFF, GIF or BMP, else None."""
    import io
    import warnings

    from PIL import Image, ImageOps

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=ARCHIVE_FORMATS) as im:
                if im.width * im.height > max_pixels or im.width <= 0 or im.height <= 0:
                    return None
                im.seek(0)
                im.load()
                fmt = im.format
                upright = ImageOps.exif_transpose(im)
                rgb = upright.convert("RGBA") if upright.mode in ("P", "PA", "LA", "RGBA") else upright
                if rgb.mode == "RGBA":
                    base = Image.new("RGBA", rgb.size, (255, 255, 255, 255))
                    base.alpha_composite(rgb)
                    rgb = base
                return rgb.convert("RGB"), fmt
    except Exception:
        return None


def _find_faces(image, faces_cfg: dict) -> list[dict]:
    import numpy as np

    from pipeline.analyse import find_faces
    from pipeline.jobs import encoding_blob

    return [{"box": [int(v) for v in f["box"]], "encoding": encoding_blob(f.get("encoding"))}
            for f in find_faces(np.asarray(image), faces_cfg)]


def _read_picture_text(image, scale: float) -> list[dict]:
    """Lines of text read in the picture (polygons in original pixels), for matching on the
    coordinator against today's register; kept with the metadata in the audit cache."""
    import numpy as np

    from pipeline.text_in_picture import line_records

    return line_records(np.asarray(image), scale)


def _metadata_dict(report) -> dict:
    return {"found": list(report.found), "texts": dict(report.texts), "person_names": list(report.person_names),
            "taken_date": report.taken_date, "problems": list(report.problems)}


def unreadable_result(sha: str | None, reason: str, *, metadata: dict | None = None, cacheable: bool = True) -> dict:
    """The record of a file that could not be checked: reported with its reason, never cached without a hash."""
    return {"sha256": sha, "outcome": "unreadable", "error": reason, "format": None, "width": None,
            "height": None, "faces": [], "metadata": metadata or _metadata_dict_empty(),
            "cacheable": cacheable and sha is not None}


def _metadata_dict_empty() -> dict:
    return {"found": [], "texts": {}, "person_names": [], "taken_date": None, "problems": []}
