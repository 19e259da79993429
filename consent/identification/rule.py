"""Apply the calibrated identification rule to one face's distances to every person.

A face is *identified* as its nearest person only when all of these hold:

1. the distance to that person's closest reference photo is within the calibrated threshold
   (never above ``match_tolerance``);
2. the runner-up person is at least ``margin`` further away;
3. the nearest person stands out from the face's distances to everybody else: its cohort score
   ``(distance - mean of the others) / their standard deviation`` is at most the calibrated one
   (faces that are near many people at once — small, blurred, generic — are not named);
4. the face is large enough to tell people apart (``min_size``; 0 by default: a size gate was
   measured in ``benchmarks/identification.py`` and lost far more true identifications than it
   saved false ones, so only ``min_recognisable_size`` applies).

A face within ``threshold + margin`` of a person who is one of a look-alike pair in the register
(siblings, twins) is never identified: it goes to review, whatever ``[faces] uncertain`` says.

Otherwise it is *uncertain* when within ``review_tolerance`` of someone, else *unknown*.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Rule:
    threshold: float
    margin: float
    review: float
    z_threshold: float | None = None
    lookalikes: frozenset = field(default_factory=frozenset)   # people in a look-alike pair
    min_size: int = 0                                          # faces smaller than this are not identified


@dataclass(frozen=True)
class Verdict:
    match: str                      # identified | uncertain | unknown
    person_id: str | None
    distance: float | None
    candidates: tuple[tuple[str, float], ...]
    why: str = ""                   # why an otherwise close face was not identified
    score: float | None = None      # cohort score of the nearest person


def judge(distances: dict[str, float], rule: Rule, size: int | None = None) -> Verdict:
    """The verdict for one face from its closest distance to each person."""
    people = list(distances)
    return judge_array(people, np.fromiter(distances.values(), dtype=np.float64, count=len(people)), rule, size)


def judge_array(people: list[str], d: np.ndarray, rule: Rule, size: int | None = None) -> Verdict:
    """:func:`judge` for ``d[i]`` = the face's closest distance to ``people[i]``."""
    if not len(people):
        return Verdict("unknown", None, None, ())
    close = np.nonzero(d <= rule.review)[0]
    close = close[np.argsort(d[close], kind="stable")]
    candidates = tuple((people[i], float(d[i])) for i in close)
    b = int(np.argmin(d))
    best_id, best = people[b], float(d[b])
    rest = np.delete(d, b)
    runner_up = float(rest.min()) if len(rest) else np.inf
    score = None
    if rule.z_threshold is not None and len(d) >= 4:
        mu, sd = float(rest.mean()), float(rest.std(ddof=1))
        score = (best - mu) / sd if sd > 0 else 0.0
    why = ""
    if best > rule.threshold:
        why = "not close enough"
    elif runner_up - best < rule.margin:
        why = f"too close to {people[int(np.argmin(np.where(np.arange(len(d)) == b, np.inf, d)))]} as well"
    elif score is not None and score > rule.z_threshold:
        why = "close to too many people at once"
    elif size is not None and size < rule.min_size:
        why = "face too small to tell people apart"
    if best_id in rule.lookalikes and best <= rule.threshold + rule.margin:
        why = "look-alike"
    if not why:
        return Verdict("identified", best_id, best, candidates, "", score)
    if why == "look-alike":
        return Verdict("uncertain", best_id, best, candidates or ((best_id, best),), why, score)
    if best <= rule.review:
        return Verdict("uncertain", best_id, best, candidates, why, score)
    return Verdict("unknown", None, best, (), why, score)
