"""Match a face descriptor against every enrolled reference photo of every person.

identified: closest person within ``match_tolerance`` AND the next-closest person at
            least ``margin`` further away;
uncertain:  within ``review_tolerance`` of someone but not identified;
unknown:    otherwise, and always for a face with no descriptor (too small to recognise).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Tolerances:
    match: float = 0.5
    review: float = 0.6
    margin: float = 0.06

    @classmethod
    def from_config(cls, faces_cfg: dict) -> "Tolerances":
        return cls(faces_cfg["match_tolerance"], faces_cfg["review_tolerance"], faces_cfg["margin"])


@dataclass(frozen=True)
class Match:
    match: str                      # identified | uncertain | unknown
    person_id: str | None = None    # closest person (identified or uncertain)
    distance: float | None = None   # distance to that person's closest reference photo
    candidates: tuple[tuple[str, float], ...] = field(default_factory=tuple)  # within review tolerance, closest first

    def to_json(self) -> dict:
        return {"match": self.match, "person": self.person_id,
                "distance": None if self.distance is None else round(self.distance, 4),
                "candidates": [[p, round(d, 4)] for p, d in self.candidates]}


UNKNOWN = Match("unknown")


class Gallery:
    """All reference encodings in one matrix, so a face costs one vectorised distance computation."""

    def __init__(self, person_ids: list[str], encodings: np.ndarray):
        self.person_ids = np.asarray(person_ids, dtype=object)
        self.encodings = np.asarray(encodings, dtype=np.float64).reshape(-1, 128)
        self.people = sorted(set(person_ids))

    def __len__(self) -> int:
        return len(self.people)

    def distances(self, encoding: np.ndarray) -> dict[str, float]:
        """Closest distance to each person (over all of that person's reference photos)."""
        if not len(self.person_ids):
            return {}
        d = np.linalg.norm(self.encodings - np.asarray(encoding, dtype=np.float64), axis=1)
        best: dict[str, float] = {}
        for pid, dist in zip(self.person_ids, d):
            if dist < best.get(pid, np.inf):
                best[pid] = float(dist)
        return best

    def match(self, encoding: np.ndarray | None, tol: Tolerances) -> Match:
        if encoding is None:
            return UNKNOWN
        ranked = sorted(self.distances(encoding).items(), key=lambda kv: kv[1])
        if not ranked:
            return UNKNOWN
        candidates = tuple((p, d) for p, d in ranked if d <= tol.review)
        best_id, best = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else np.inf
        if best <= tol.match and runner_up - best >= tol.margin:
            return Match("identified", best_id, best, candidates)
        if best <= tol.review:
            return Match("uncertain", best_id, best, candidates)
        return Match("unknown", None, best, ())
