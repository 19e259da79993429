"""Analyse one image: decode, read metadata, find and encode faces, match, decide (no side effects)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from consent.policy import decide_face, image_status
from pipeline.errors import unchecked_reason
from processors.decode import RejectedImage, decode_image
from processors.face_detect import DetectOptions, detect
from processors.face_encode import box_size, encode_detections
from processors.metadata import MetadataReport, inspect_metadata
from processors.output import source_edge

log = logging.getLogger(__name__)


@dataclass
class Analysis:
    status: str
    reason: str
    faces: list[dict] = field(default_factory=list)   # box, encoding, person, distance, match, candidates, decisions, reasons
    image: Image.Image | None = None
    size: tuple[int, int] | None = None
    taken_date: str | None = None
    metadata: MetadataReport | None = None
    # ``image`` may be a draft (DCT-scaled) decode: its size is ``size × scale``. Face boxes are always
    # in the coordinates of the full, orientation-corrected original; ``faces_on_image`` maps them.
    scale: float = 1.0
    # Regions of text read in the picture (pipeline.text_in_picture): box/polygon in original
    # coordinates, decisions per channel, why (a person id). Never the text itself.
    texts: list[dict] = field(default_factory=list)

    def texts_on_image(self) -> list[dict]:
        """``texts`` with their polygons in the coordinates of ``image``."""
        from pipeline.text_in_picture import texts_scaled

        return texts_scaled(self.texts, self.scale)

    def faces_on_image(self) -> list[dict]:
        """``faces`` with their boxes in the coordinates of ``image`` (for redaction)."""
        if self.scale == 1.0 or self.image is None:
            return self.faces
        return [{**f, "box": scale_box(f["box"], self.scale, self.image.size)} for f in self.faces]

    def public(self) -> dict:
        return {
            "status": self.status,
            "reason": self.reason,
            "faces": [face_json(f) for f in self.faces],
            "outputs": {},
            "captions": {},
            "metadata_found": list(self.metadata.found) if self.metadata else [],
            "texts": [dict(t) for t in self.texts],
        }


def face_json(face: dict) -> dict:
    return {"box": [int(v) for v in face["box"]], "person": face.get("person"),
            "distance": None if face.get("distance") is None else round(float(face["distance"]), 4),
            "match": face["match"], "decisions": dict(face["decisions"]),
            "candidates": [[p, round(float(d), 4)] for p, d in face.get("candidates", [])]}


def analyse(data: bytes, *, name: str, ctx) -> Analysis:
    cfg = ctx.ws.config
    limits = cfg["limits"]
    try:
        # One decode per file, DCT-scaled (JPEG) to what the rest needs: the detector's working
        # size and the released image's long edge. Nothing later decodes the file again.
        decoded = decode_image(data, name=name, max_bytes=int(limits["max_file_mb"] * 1024 * 1024),
                               max_pixels=int(limits["max_megapixels"] * 1_000_000),
                               min_long_edge=source_edge(int(cfg["output"]["max_edge"])), min_pixels=detector_pixels())
    except RejectedImage as exc:
        return Analysis("rejected", f"Rejected: {exc.reason}")
    metadata = inspect_metadata(data, name)
    image = decoded.image
    try:
        # On a draft image a face must reach min_recognisable_size *in that image* to be encoded
        # (stricter than in the original, so never less safe); boxes go back to original coordinates.
        faces = find_faces(np.asarray(image), cfg["faces"])
        if decoded.scale != 1.0:
            for f in faces:
                f["box"] = scale_box(f["box"], 1.0 / decoded.scale, decoded.original_size)
    except Exception as exc:  # never release what we could not check
        log.exception("face analysis failed for %s", name)
        return Analysis("rejected", unchecked_reason("photo", exc), metadata=metadata)
    decide_faces(faces, ctx)
    status, reason = image_status(
        [_fd(f) for f in faces], ctx.channels,
        release_when_all_blurred=cfg["channels"]["release_when_all_blurred"])
    texts, text_problem = read_texts(image, faces, ctx, decoded.scale)
    if text_problem and status == "released":
        status, reason = "review", text_problem
    elif any(t["redacted"] for t in texts):
        from pipeline.text_in_picture import text_summary

        reason = f"{reason}; {text_summary(texts)}"
    return Analysis(status, reason, faces, image, decoded.original_size, metadata.taken_date, metadata,
                    scale=decoded.scale, texts=texts)


def read_texts(image, faces: list[dict], ctx, scale: float) -> tuple[list[dict], str | None]:
    """The text regions of the picture (``[text]`` settings), or why they could not be read."""
    from pipeline.text_in_picture import find_texts

    try:
        return find_texts(np.asarray(image), faces, ctx, scale), None
    except Exception as exc:  # never release what we could not check
        log.exception("reading the text in %s failed", "a photo")
        return [], (f"held for review: the text in the photo could not be read ({type(exc).__name__}); "
                    "check it for names before releasing")


def detector_pixels() -> int:
    """Pixels the face detector works at (it scales larger images down itself)."""
    return int(getattr(DetectOptions(), "upright_megapixels", 3.0) * 1_000_000)


def scale_box(box, factor: float, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """``(top, right, bottom, left)`` multiplied by ``factor``, rounded outwards, kept inside ``size``."""
    import math

    top, right, bottom, left = box
    w, h = size
    return (max(0, math.floor(top * factor)), min(w - 1, math.ceil(right * factor)),
            min(h - 1, math.ceil(bottom * factor)), max(0, math.floor(left * factor)))


def find_faces(rgb: np.ndarray, faces_cfg: dict) -> list[dict]:
    """Detect every face and encode each one once (None when too small to recognise)."""
    detections = detect(rgb, DetectOptions(detector=faces_cfg["detector"]))
    min_size = faces_cfg["min_recognisable_size"]
    # encode_detections levels tilted faces before dlib places its landmarks; None = unknown.
    encodings = encode_detections(rgb, detections, min_size)
    return [{"box": tuple(int(v) for v in d.box), "encoding": e} for d, e in zip(detections, encodings)]


def decide_faces(faces: list[dict], ctx, confirmed: dict[int, str] | None = None) -> None:
    """Match each face against the register and decide it on every channel (in place)."""
    unknown_action = ctx.ws.config["faces"]["unknown"]
    uncertain_action = ctx.ws.config["faces"].get("uncertain", "redact")
    tolerances = ctx.tolerances
    for i, face in enumerate(faces):
        m = ctx.gallery.match(face.get("encoding"), tolerances, box_size(face["box"]))
        who = (confirmed or {}).get(i)
        fd = decide_face(m, ctx.people, ctx.channels, ctx.today(), unknown_action=unknown_action,
                         uncertain_action=uncertain_action, confirmed=who)
        person = m.person_id if who is None else (None if who == "unknown" else who)
        face.update(person=person, distance=m.distance, match=m.match, candidates=list(m.candidates),
                    decisions=fd.decisions, reasons=fd.reasons)


def _fd(face: dict):
    from consent.policy import FaceDecision

    return FaceDecision(face["decisions"], face["reasons"])
