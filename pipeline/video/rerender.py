"""Render a clip again after it was first processed: on review release and after a consent change.

Nothing is detected again: the stored tracks (box on every detected frame) and the faces' current
decisions say what to redact; the frames come from the untouched original in ``originals/``.
"""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.video.analyse import ClipAnalysis
from pipeline.video.render import render_clip
from pipeline.video.tracks import load_tracks
from processors.video.probe import RejectedClip, probe_clip
from processors.video.tracking import Track


class ClipUnavailable(Exception):
    """The clip's original or its tracks are no longer there to render from."""


def is_clip_job(job) -> bool:
    try:
        return json.loads(job["result_json"] or "{}").get("media") == "video"
    except (TypeError, ValueError):
        return False


def stored_clip(ws, job, faces: list[dict]) -> tuple[Path, ClipAnalysis]:
    """The original's path and an analysis rebuilt from the record, with ``faces``' decisions."""
    rel = job["original_path"]
    original = ws.root / rel if rel else None
    if original is not None and original.is_symlink():
        raise ClipUnavailable(f"the kept original of clip {job['id']} was replaced by a link to another file")
    if original is None or not original.is_file():
        raise ClipUnavailable(f"the original of clip {job['id']} is no longer kept")
    expected = (job["original_sha256"] if "original_sha256" in job.keys() and job["original_sha256"]
                else job["sha256"])
    if expected is None or _sha256(original) != expected:
        raise ClipUnavailable(f"the kept original of clip {job['id']} is not the clip that was processed "
                              "(its content changed afterwards)")
    limits, vcfg = ws.config["limits"], ws.config["video"]
    try:
        info = probe_clip(original, max_seconds=max(float(vcfg["max_seconds"]), 3600.0),
                          max_pixels=int(limits["max_megapixels"] * 1_000_000))
    except RejectedClip as exc:
        raise ClipUnavailable(f"the original of clip {job['id']} can no longer be read ({exc.reason})") from None
    record = json.loads(job["result_json"] or "{}")
    clip = record.get("clip") or {}
    stored = load_tracks(ws.db, job["id"])
    if len(stored) != len(faces) or not clip.get("frames"):
        raise ClipUnavailable(f"the face tracks of clip {job['id']} are incomplete")
    tracks = [Track(t["track"], boxes={b[0]: tuple(b[1:]) for b in t["boxes"]}) for t in stored]
    analysis = ClipAnalysis("released", "", faces=faces, tracks=tracks, info=info, frames=int(clip["frames"]),
                            poster=None, poster_index=int(clip.get("poster_frame", 0)))
    return original, analysis


def rerender_clip(ws, job, faces: list[dict], channels: list[str], stem: str, captions: dict[str, str],
                  existing: dict[str, str] | None = None) -> tuple[dict, dict]:
    """Write the channels' clips (+ poster, caption) with ``faces``' decisions; ``(outputs, sha256s)``."""
    original, analysis = stored_clip(ws, job, faces)
    try:
        return render_clip(ws, original, analysis, channels, stem, captions, existing=existing)
    except RejectedClip as exc:
        raise ClipUnavailable(f"the original of clip {job['id']} can no longer be read ({exc.reason})") from None
    except Exception as exc:  # fail safe: the caller retracts (or keeps held) what it cannot render
        raise ClipUnavailable(f"clip {job['id']} could not be rendered again ({exc})") from None


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
