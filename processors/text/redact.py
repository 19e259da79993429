"""Which text regions a channel redacts, and their irreversible redaction.

Regions travel as plain dicts (the record's ``texts`` entries): ``box``, ``polygon``,
``decisions`` per channel (``keep``/``redact``), ``why`` (a person id), ``kind`` and, for a
lone given name, ``people`` (kept only where one of them is kept). Rendering works out the
regions again from the faces' decisions at that moment, so a consent change that redacts a
person's face also redacts their given name in the picture; a region is never un-redacted.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from processors.redact import STYLES, redact_patch

LINE_MARGIN = 0.08   # of the line's height, added around every redacted text polygon (the detector's
                     # box already holds the letters with a margin)


def region_record(region, channels: list[str], kept: dict[str, set[str]], scale: float = 1.0) -> dict:
    """The record entry for a :class:`~processors.text.regions.TextRegion` (boxes in original pixels,
    ``scale`` = image pixels per original pixel). ``kept``: channel → ids of people kept there."""
    from processors.text.regions import CONDITIONAL

    decisions = {}
    for ch in channels:
        if region.rule == "redact":
            decisions[ch] = "redact"
        elif region.rule == CONDITIONAL:
            decisions[ch] = "keep" if set(region.people) & kept.get(ch, set()) else "redact"
        else:
            decisions[ch] = "keep"
    poly = region.polygon / scale
    xs, ys = poly[:, 0], poly[:, 1]
    return {
        "box": [int(np.floor(ys.min())), int(np.ceil(xs.max())), int(np.ceil(ys.max())), int(np.floor(xs.min()))],
        "polygon": [[int(round(x)), int(round(y))] for x, y in poly],
        "redacted": all(d == "redact" for d in decisions.values()),
        "why": region.person,
        "kind": region.kind,
        "decisions": decisions,
        **({"people": list(region.people)} if region.rule == CONDITIONAL else {}),
    }


def public_text(entry: dict) -> dict:
    """What ``--json`` shows of a region: box, redacted, why (a person id), kind, decisions."""
    return {k: entry[k] for k in ("box", "redacted", "why", "kind", "decisions") if k in entry}


def redacted_texts(texts: list[dict] | None, faces: list[dict], channel: str | None) -> list[list]:
    """Polygons to redact on ``channel`` (every region redacted on any channel when ``channel`` is None)."""
    out = []
    for t in texts or []:
        decisions = t.get("decisions") or {}
        if channel is None:
            redact = any(d != "keep" for d in decisions.values()) or _conditional_gone(t, faces, None)
        else:
            redact = decisions.get(channel, "redact") != "keep" or _conditional_gone(t, faces, channel)
        if redact:
            out.append(t["polygon"])
    return out


def _conditional_gone(t: dict, faces: list[dict], channel: str | None) -> bool:
    """A lone given name shown only while one of its people is kept: true once none is."""
    people = t.get("people")
    if not people:
        return False
    for f in faces:
        who = f.get("confirmed") if f.get("confirmed") not in (None, "unknown") else f.get("person")
        if who in people:
            if channel is None and all(d == "keep" for d in f["decisions"].values()):
                return False
            if channel is not None and f["decisions"].get(channel) == "keep":
                return False
    return True


def scale_polygons(polygons: list, scale: float) -> list:
    return [[[x * scale, y * scale] for x, y in p] for p in polygons]


def redact_polygons(image: Image.Image, polygons: list, *, style: str = "blur") -> Image.Image:
    """A copy of ``image`` with every polygon (text line or part of one) irreversibly redacted:
    the same treatment as faces (reduced to a few colour blocks, then blurred/pixelated/filled)."""
    if style not in STYLES:
        raise ValueError(f"unknown redaction style {style!r}; use one of {', '.join(STYLES)}")
    out = image.copy()
    w, h = out.size
    for poly in polygons:
        pts = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
        if len(pts) < 3:
            continue
        pts = _grow(pts)
        left, top = max(0, int(np.floor(pts[:, 0].min()))), max(0, int(np.floor(pts[:, 1].min())))
        right, bottom = min(w, int(np.ceil(pts[:, 0].max())) + 1), min(h, int(np.ceil(pts[:, 1].max())) + 1)
        if right - left < 2 or bottom - top < 2:
            continue
        region = (left, top, right, bottom)
        patch = redact_patch(out.crop(region), style, blocks_across=_blocks(pts))
        mask = Image.new("L", patch.size, 0)
        ImageDraw.Draw(mask).polygon([(x - left, y - top) for x, y in pts], fill=255)
        out.paste(patch, region, mask)
    return out


def _grow(pts: np.ndarray) -> np.ndarray:
    """A text quadrilateral (tl, tr, br, bl) lengthened by LINE_MARGIN of its height at each end
    and by a pixel across (the detector's box already holds the letters' full height with a
    margin; growing it across would reach the next line on a tightly set certificate)."""
    if len(pts) != 4:
        centre = pts.mean(axis=0)
        return np.asarray([p + (p - centre) * 0.1 for p in pts])
    tl, tr, br, bl = pts
    axis = ((tr - tl) + (br - bl)) / 2
    length = np.linalg.norm(axis)
    if length < 1:
        return pts
    u = axis / length
    n = np.array([-u[1], u[0]])
    height = max(1.0, (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2)
    m = LINE_MARGIN * height
    return np.asarray([tl - u * m - n, tr + u * m - n, br + u * m + n, bl - u * m + n])


def _blocks(pts: np.ndarray) -> int:
    """Colour blocks across a text patch: about one per two letters' height of length, so no letter
    keeps a shape (a face patch uses 6 across)."""
    sides = [np.linalg.norm(pts[i] - pts[(i + 1) % len(pts)]) for i in range(len(pts))]
    long, short = max(sides), max(1.0, min(sides))
    return int(max(2, min(24, round(long / (2 * short)))))


def outline_polygons(image: Image.Image, polygons: list, colour=(255, 200, 0)) -> Image.Image:
    """``image`` with each polygon outlined (review previews show where text was read)."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    width = max(2, round(max(out.size) / 600))
    for poly in polygons:
        pts = [(float(x), float(y)) for x, y in poly]
        if len(pts) >= 3:
            draw.line(pts + [pts[0]], fill=colour, width=width)
    return out
