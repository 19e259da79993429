"""Match a face descriptor against every enrolled reference photo of every person.

The rule itself (:mod:`consent.identification.rule`) is calibrated on the register's own reference
photos (:mod:`consent.identification.calibration`); ``match_tolerance`` and ``margin`` are upper
bounds on it.

identified: see :mod:`consent.identification.rule` (calibrated distance, runner-up margin, cohort
            score, face size);
uncertain:  within ``review_tolerance`` of someone but not identified (``why`` says why);
unknown:    otherwise, and always for a face with no descriptor (too small to recognise).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from consent.identification.rule import Rule, judge_array


@dataclass(frozen=True)
class Tolerances:
    match: float = 0.5
    review: float = 0.6
    margin: float = 0.06
    threshold: float | None = None      # calibrated distance (None: ``match``)
    z_threshold: float | None = None    # calibrated cohort score (None: not used)
    lookalikes: frozenset = field(default_factory=frozenset)   # people in a look-alike pair: review
    min_size: int = 0                   # faces smaller than this (px) are never identified

    @classmethod
    def from_config(cls, faces_cfg: dict, calibration=None) -> "Tolerances":
        base = cls(faces_cfg["match_tolerance"], faces_cfg["review_tolerance"], faces_cfg["margin"])
        if calibration is None:
            return base
        return cls(base.match, base.review, max(base.margin, calibration.margin),
                   min(base.match, calibration.threshold), calibration.z_threshold,
                   frozenset(calibration.lookalike_people))

    def rule(self) -> Rule:
        threshold = self.match if self.threshold is None else min(self.match, self.threshold)
        return Rule(threshold, self.margin, self.review, self.z_threshold, self.lookalikes, self.min_size)


@dataclass(frozen=True)
class Match:
    match: str                      # identified | uncertain | unknown
    person_id: str | None = None    # closest person (identified or uncertain)
    distance: float | None = None   # distance to that person's closest reference photo
    candidates: tuple[tuple[str, float], ...] = field(default_factory=tuple)  # within review tolerance, closest first
    why: str = ""                   # why a close face was not identified ("look-alike" goes to review)

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
        index = {p: i for i, p in enumerate(self.people)}
        owner = np.array([index[p] for p in self.person_ids], dtype=np.int64)
        # reference photos grouped by person, so each person's closest is one reduceat
        self._order = np.argsort(owner, kind="stable")
        self._starts = np.searchsorted(owner[self._order], np.arange(len(self.people)))
        self._sorted = self.encodings[self._order]

    def __len__(self) -> int:
        return len(self.people)

    def distances(self, encoding: np.ndarray) -> dict[str, float]:
        """Closest distance to each person (over all of that person's reference photos)."""
        return {p: float(x) for p, x in zip(self.people, self.person_distances(encoding))}

    def person_distances(self, encoding: np.ndarray) -> np.ndarray:
        """``out[i]``: closest distance to ``self.people[i]``."""
        if not len(self.person_ids):
            return np.zeros(0)
        diff = self._sorted - np.asarray(encoding, dtype=np.float64)
        d = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        return np.minimum.reduceat(d, self._starts)

    def match(self, encoding: np.ndarray | None, tol: Tolerances, size: int | None = None) -> Match:
        if encoding is None:
            return UNKNOWN
        v = judge_array(self.people, self.person_distances(encoding), tol.rule(), size)
        if v.match == "unknown" and v.distance is None:
            return UNKNOWN
        return Match(v.match, v.person_id, v.distance, v.candidates, v.why)
