"""Follow faces from frame to frame, and say where each face must be redacted on every frame.

A *track* is one face followed through the clip: the detections of consecutive frames that
overlap (or whose centres stay close at a similar size), broken by a cut between scenes or by a
gap longer than ``max_gap`` frames. ``redaction_boxes`` then gives every frame the boxes to cover:

- on a frame with a detection, its box;
- in a gap inside a track (the detector missed the face for a few frames), the union of the boxes
  either side, so a face moving across the gap is covered wherever it is;
- ``hold`` frames after the last detection (a face turning away or leaving) and ``lead`` frames
  before the first one (a face arriving), the nearest box, grown a little.

Boxes are ``(top, right, bottom, left)`` in upright frame pixels.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Box = tuple[int, int, int, int]


@dataclass
class Track:
    id: int
    boxes: dict[int, Box] = field(default_factory=dict)   # frame index -> detected box
    samples: list = field(default_factory=list)           # (frame index, encoding or None) used to identify it

    @property
    def first(self) -> int:
        return min(self.boxes)

    @property
    def last(self) -> int:
        return max(self.boxes)

    def last_box(self) -> Box:
        return self.boxes[self.last]


def _area(b: Box) -> float:
    return max(0, b[2] - b[0]) * max(0, b[1] - b[3])


def iou(a: Box, b: Box) -> float:
    inter = _area((max(a[0], b[0]), min(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])))
    return inter / (_area(a) + _area(b) - inter + 1e-9)


def _affinity(track_box: Box, box: Box, frames_apart: int) -> float:
    """How likely ``box`` is the face last seen at ``track_box``: 0 (not) .. 2 (surely)."""
    overlap = iou(track_box, box)
    if overlap >= 0.2:
        return 1.0 + overlap
    ratio = _area(box) / max(_area(track_box), 1.0)
    if not 0.5 <= ratio <= 2.0:
        return 0.0
    size = max(track_box[2] - track_box[0], track_box[1] - track_box[3])
    ty, tx = (track_box[0] + track_box[2]) / 2, (track_box[1] + track_box[3]) / 2
    by, bx = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    dist = ((ty - by) ** 2 + (tx - bx) ** 2) ** 0.5
    reach = size * (0.6 + 0.15 * min(frames_apart, 6))
    return max(0.0, 1.0 - dist / reach) if dist < reach else 0.0


class Tracker:
    """Builds tracks online, one frame at a time (``update``), then ``finish`` returns them all."""

    def __init__(self, max_gap: int = 15):
        self.max_gap = max_gap
        self.active: list[Track] = []
        self.done: list[Track] = []
        self._next = 0

    def cut(self) -> None:
        """A cut between scenes: no face continues across it."""
        self.done.extend(self.active)
        self.active = []

    def update(self, frame: int, boxes: list[Box]) -> list[Track]:
        """Assign this frame's boxes to tracks (new ones where nothing fits); returns the track of each box."""
        still = []
        for t in self.active:
            (still if frame - t.last <= self.max_gap else self.done).append(t)
        self.active = still
        pairs = []
        for bi, box in enumerate(boxes):
            for t in self.active:
                score = _affinity(t.last_box(), box, frame - t.last)
                if score > 0:
                    pairs.append((score, bi, t.id))
        assigned: dict[int, Track] = {}
        taken: set[int] = set()
        by_id = {t.id: t for t in self.active}
        for score, bi, tid in sorted(pairs, key=lambda p: -p[0]):
            if bi in assigned or tid in taken:
                continue
            assigned[bi] = by_id[tid]
            taken.add(tid)
        out = []
        for bi, box in enumerate(boxes):
            t = assigned.get(bi)
            if t is None:
                t = Track(self._next)
                self._next += 1
                self.active.append(t)
            t.boxes[frame] = tuple(int(v) for v in box)
            out.append(t)
        return out

    def finish(self) -> list[Track]:
        tracks = sorted(self.done + self.active, key=lambda t: (t.first, t.id))
        self.done, self.active = [], []
        for n, t in enumerate(tracks):
            t.id = n
        return tracks


class CutDetector:
    """Spots a cut between scenes from a tiny grey copy of each frame (mean change of brightness)."""

    def __init__(self, threshold: float = 40.0):
        self.threshold = threshold
        self._last: np.ndarray | None = None

    def is_cut(self, rgb: np.ndarray) -> bool:
        import cv2

        small = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (48, 27), interpolation=cv2.INTER_AREA)
        small = small.astype(np.float32)
        last, self._last = self._last, small
        if last is None:
            return False
        return float(np.mean(np.abs(small - last))) > self.threshold


def _union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), max(a[1], b[1]), max(a[2], b[2]), min(a[3], b[3]))


def _grow(b: Box, by: float) -> Box:
    h, w = b[2] - b[0], b[1] - b[3]
    dy, dx = int(round(h * by)), int(round(w * by))
    return (b[0] - dy, b[1] + dx, b[2] + dy, b[3] - dx)


def track_boxes(track: Track, *, hold: int, lead: int, frames: int) -> dict[int, Box]:
    """Every frame on which ``track`` must be covered, with its box (see the module docstring)."""
    out: dict[int, Box] = {}
    seen = sorted(track.boxes)
    for a, b in zip(seen, seen[1:]):
        out[a] = track.boxes[a]
        if b - a > 1:
            gap = _union(track.boxes[a], track.boxes[b])
            for f in range(a + 1, b):
                out[f] = gap
    out[seen[-1]] = track.boxes[seen[-1]]
    for k in range(1, hold + 1):
        f = seen[-1] + k
        if f >= frames:
            break
        out[f] = _grow(track.boxes[seen[-1]], 0.1 + 0.02 * k)
    for k in range(1, lead + 1):
        f = seen[0] - k
        if f < 0:
            break
        out[f] = _grow(track.boxes[seen[0]], 0.1 + 0.02 * k)
    return out


def redaction_plan(tracks: list[Track], *, hold: int, lead: int, frames: int) -> dict[int, list[tuple[int, Box]]]:
    """``frame -> [(track id, box), …]`` for every frame that has something to cover."""
    plan: dict[int, list[tuple[int, Box]]] = {}
    for t in tracks:
        for f, box in track_boxes(t, hold=hold, lead=lead, frames=frames).items():
            plan.setdefault(f, []).append((t.id, box))
    return plan
