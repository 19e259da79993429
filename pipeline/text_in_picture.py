"""Names in the picture (issue 17): read the photo's text and decide each region per channel.

The one place the pipeline (first processing, and the audit) turns ``[text]`` settings, the
register and the faces' decisions into text regions; rendering redacts them through
:func:`processors.text.redact.redacted_texts`. The recognised text never leaves this module:
regions carry a box, a polygon, decisions and a person id.
"""
from __future__ import annotations

import json

import numpy as np

from processors.text import read_lines, text_regions
from processors.text.redact import region_record


def enabled(config) -> bool:
    text = config["text"]
    return text["names"] == "redact" or bool(text["all"])


def kept_people(faces: list[dict], channels: list[str]) -> dict[str, set[str]]:
    """Channel → ids of people whose face is kept there."""
    return {ch: {f["person"] for f in faces if f.get("person") and f["decisions"].get(ch) == "keep"}
            for ch in channels}


def roles(ctx) -> dict[str, str]:
    return {pid: (getattr(p, "role", None) or "pupil") for pid, p in (ctx.people or {}).items()}


def find_texts(rgb: np.ndarray, faces: list[dict], ctx, scale: float = 1.0) -> list[dict]:
    """Text regions of ``rgb`` as record entries (boxes in original pixels; ``scale`` = image
    pixels per original pixel), decided on every channel from ``faces``' decisions."""
    cfg = ctx.ws.config
    if not enabled(cfg):
        return []
    lines = read_lines(rgb)
    regions = text_regions(lines, ctx.named, roles(ctx), names=cfg["text"]["names"], all_text=bool(cfg["text"]["all"]))
    kept = kept_people(faces, ctx.channels)
    return [region_record(r, ctx.channels, kept, scale) for r in regions]


def frame_texts(rgb: np.ndarray, ctx) -> list:
    """The text regions of one video frame (:class:`~processors.text.regions.TextRegion`), before
    any face is decided; ``[]`` when reading text is off. See :func:`clip_texts`."""
    cfg = ctx.ws.config
    if not enabled(cfg):
        return []
    return text_regions(read_lines(rgb), ctx.named, roles(ctx), names=cfg["text"]["names"],
                        all_text=bool(cfg["text"]["all"]))


def clip_texts(found: list[tuple[int, float, list]], faces: list[dict], ctx) -> list[dict]:
    """Record entries for the text regions :func:`frame_texts` found on a clip's sampled frames
    (``found``: frame index, time in seconds, regions), decided per channel from the tracks' decisions
    (``faces``), each with its ``frame`` and ``time``. Only regions redacted on some channel are kept:
    a clip is never released with one legible (the pipeline holds it for a person)."""
    kept = kept_people(faces, ctx.channels)
    out = []
    for index, time, regions in found:
        for r in regions:
            entry = region_record(r, ctx.channels, kept)
            if any(d == "redact" for d in entry["decisions"].values()):
                out.append({**entry, "frame": index, "time": round(time, 2)})
    return out


def clip_text_reason(texts: list[dict]) -> str:
    """Why a clip with legible names is held (times, never the names)."""
    times = sorted({t["time"] for t in texts})
    shown = ", ".join(f"{int(t // 60)}:{t % 60:04.1f}" for t in times[:5]) + (" …" if len(times) > 5 else "")
    return (f"a name is legible in the picture at {shown} (a certificate, badge, shirt or display); text in "
            "a clip is not blurred, so trim the clip or film it again — releasing it publishes the name")


def texts_scaled(texts: list[dict] | None, scale: float) -> list[dict]:
    """``texts`` with polygons multiplied by ``scale`` (for an image of another size)."""
    if not texts or scale == 1.0:
        return list(texts or [])
    return [{**t, "polygon": [[x * scale, y * scale] for x, y in t["polygon"]]} for t in texts]


def stored_texts(job) -> list[dict]:
    """The text regions recorded for a job (its JSON record), for re-rendering."""
    try:
        return list(json.loads(job["result_json"] or "{}").get("texts") or [])
    except (ValueError, TypeError, KeyError, IndexError):
        return []


def text_summary(texts: list[dict]) -> str:
    """A short phrase for reasons and logs: how many text regions were redacted (no names)."""
    n = sum(1 for t in texts if t.get("redacted"))
    return f"{n} text region{'s' if n != 1 else ''} redacted" if n else ""


# --- the audit: lines read on a worker, matched on the coordinator -----------------------------

def line_records(rgb: np.ndarray, scale: float = 1.0) -> list[dict]:
    """Every line read in ``rgb`` as plain data (polygon and character polygons in original pixels)."""
    out = []
    for line in read_lines(rgb):
        if not line.text.strip():
            continue
        out.append({"polygon": (line.polygon / scale).round(1).tolist(), "text": line.text,
                    "chars": None if line.char_polygons is None
                    else [(c / scale).round(1).tolist() for c in line.char_polygons]})
    return out


def picture_regions(lines: list[dict], ctx) -> list[dict]:
    """The regions of ``lines`` (from :func:`line_records`) that redact on every channel: full names
    and pupils' family names, as record entries."""
    from processors.text.engine import TextLine

    text_lines = []
    for d in lines:
        chars = d.get("chars")
        text_lines.append(TextLine(np.asarray(d["polygon"], dtype=np.float32), d.get("text") or "", 1.0,
                                   None if chars is None else [np.asarray(c, dtype=np.float32) for c in chars]))
    regions = text_regions(text_lines, ctx.named, roles(ctx))
    return [region_record(r, ["all"], {}) for r in regions if r.rule == "redact"]
