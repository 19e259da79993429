"""Derive the identification rule from the register's own reference encodings.

A never-enrolled child is identified as pupil P when their face is close enough to P's reference
photos. How alike *different* children of this register are is measured on the register itself:
every reference photo is compared with every *other* person (the distance to that person's
closest reference photo). These are *impostor distances*: at 310 pupils with 1-2 photos each,
about 140,000 of them. A face that belongs to nobody in the register meets all N people, so the
chance that it is identified as *anyone* is about ``N × F``, F being the chance for one person:
each condition is set at ``target / N``, so the more pupils, the stricter the rule.

1. **Cohort score** (carries the target): how many standard deviations a face's nearest person
   stands out from its distances to everybody else. Each reference photo's impostor distances,
   scored against its own cohort, give the register's cohort-score distribution; the bound is the
   normal quantile of ``target / N``, or the register's own fitted tail (minus ``Z_SAFETY``)
   where that is heavier. Scoring each face against its own cohort removes what differs from face
   to face (image quality, age, a generic face close to everybody).
2. **Distance** (second line): the lowest 1 % of the impostor distances is fitted with a normal
   lower tail (a probit line, made robust with Theil-Sen's median of slopes so that a pair of
   twins or a child enrolled twice does not decide it for everybody), extrapolated to
   ``DISTANCE_FACTOR × target / N``, less twice the fit's spread when the register's people are
   drawn again with replacement (at least ``SAFETY_FLOOR``).

A face must meet both (and the runner-up margin), so the chance of naming a stranger is at most
the smaller of the two conditions' own chances. Both tails are fitted with the same code
(:func:`fit_lower_tail`). Measured in ``benchmarks/identification.py``.

With fewer than ``MIN_PEOPLE`` people there are too few impostor pairs to fit a tail: the rule
falls back to a fixed, stricter-than-default distance and says so. ``match_tolerance`` and
``margin`` from ``pipeline.toml`` are upper bounds on what calibration may allow.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field
from statistics import NormalDist

import numpy as np

METHOD_VERSION = "v2"        # part of every fingerprint: a new method recalibrates stored rules
MIN_PEOPLE = 30              # fewer people with reference photos: not enough impostor pairs to fit a tail
TAIL_FRACTION = 0.01         # the lowest 1 % of impostor distances are fitted ...
MIN_TAIL_POINTS = 50         # ... and at least this many points
SAFETY_FLOOR = 0.02          # distance always taken off the fitted threshold
BOOTSTRAP = 20               # re-drawings of the register's people that measure the fit's spread
FALLBACK_THRESHOLD = 0.40    # uncalibrated registers: identified only within this distance
DISTANCE_FACTOR = 100        # the distance condition alone holds the chance to 100 x target (second line)
Z_SAFETY = 0.25              # cohort standard deviations taken off the fitted cohort-score tail
LOOKALIKE_Z_SLACK = 0.5      # look-alike pairs: within threshold + margin and this near the cohort bound
_NORMAL = NormalDist()


@dataclass(frozen=True)
class Calibration:
    """The identification rule and the basis it was derived from."""

    threshold: float             # identified only within this distance of the person's closest reference
    margin: float                # ... and the runner-up person at least this much further
    z_threshold: float | None    # ... and a cohort score at most this (None: not calibrated)
    target: float                # expected false identifications per never-enrolled face
    people: int                  # people with at least one reference photo
    references: int              # reference photos
    pairs: int                   # impostor comparisons (reference photo vs another person)
    calibrated: bool             # False: too few people, the fallback applies
    expected_false_rate: float | None   # N × F(threshold) under the fitted tail
    method: str
    note: str                    # one plain sentence for `consent check`
    fingerprint: str = ""        # what the rule was computed from (reference ids, target, settings)
    fit: dict = field(default_factory=dict)
    lookalike_pairs: tuple = ()  # (person, person, distance): the rule can hardly tell them apart

    @property
    def lookalike_people(self) -> set[str]:
        return {p for a, b, _ in self.lookalike_pairs for p in (a, b)}

    def to_json(self) -> dict:
        out = asdict(self)
        out["lookalike_pairs"] = [list(p) for p in self.lookalike_pairs]
        return out

    @classmethod
    def from_json(cls, data: dict) -> "Calibration":
        values = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        values["lookalike_pairs"] = tuple(tuple(x) for x in values.get("lookalike_pairs", ()))
        return cls(**values)


# ---------------------------------------------------------------- impostor distances

def person_distances(person_ids, encodings: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(people, owner, M)``: the sorted people, the index of each reference's person, and
    ``M[r, j]`` = distance from reference photo ``r`` to person ``j``'s closest reference photo."""
    ids = np.asarray(list(person_ids), dtype=object)
    people = sorted(set(ids.tolist()))
    index = {p: i for i, p in enumerate(people)}
    owner = np.array([index[p] for p in ids], dtype=np.int64)
    enc = np.asarray(encodings, dtype=np.float64).reshape(-1, 128)
    sq = np.einsum("ij,ij->i", enc, enc)
    d = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * enc @ enc.T, 0.0))
    m = np.full((len(enc), len(people)), np.inf)
    for j in range(len(people)):
        cols = owner == j
        if cols.any():
            m[:, j] = d[:, cols].min(axis=1)
    return people, owner, m


def closest_pairs(people: list[str], owner: np.ndarray, m: np.ndarray, below: float,
                  z_below: float | None = None) -> tuple:
    """``(person, person, distance)`` for every two people the rule can hardly tell apart, closest
    first: a reference photo of one comes within ``below`` of the other and, when ``z_below`` is
    given, its cohort score for them (against everybody but its own person) is at most ``z_below``
    — as a stranger's face, the photo would be (or would nearly be) identified as the other."""
    n = len(people)
    pp = np.full((n, n), np.inf)
    for r, o in enumerate(owner):
        row = m[r].copy()
        row[o] = np.inf
        hit = row < below
        if z_below is not None and hit.any():
            others = np.delete(m[r], o)
            rest = np.delete(others, int(np.argmin(others)))
            sd = float(rest.std(ddof=1)) if len(rest) > 1 else 0.0
            z = (row - float(rest.mean())) / sd if sd > 0 else np.zeros_like(row)
            hit &= z <= z_below
        pp[o] = np.where(hit, np.minimum(pp[o], row), pp[o])
    pp = np.minimum(pp, pp.T)
    i, j = np.nonzero(np.triu(np.isfinite(pp), 1))
    pairs = sorted(((people[a], people[b], round(float(pp[a, b]), 4)) for a, b in zip(i, j)), key=lambda t: t[2])
    return tuple(pairs)


def cohort_samples(owner: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Cohort score of every (reference photo, other person) pair: the distance minus the mean of
    the photo's distances to the other people (its nearest left out), over their standard deviation."""
    out = []
    for r in range(len(owner)):
        row = np.delete(m[r], owner[r])
        if len(row) < 4:
            continue
        rest = np.delete(row, int(np.argmin(row)))
        sd = float(rest.std(ddof=1))
        if sd > 0:
            out.append((row - float(rest.mean())) / sd)
    return np.concatenate(out) if out else np.zeros(0)


def stands_out(row: np.ndarray, j: int, z_threshold: float | None) -> bool:
    """Whether person ``j``'s distance passes the rule's cohort-score bound among ``row`` (the
    photo's closest distance to each other person; its own person is ``inf``)."""
    if z_threshold is None:
        return True
    finite = row[np.isfinite(row)]
    rest = np.delete(finite, int(np.argmin(finite)))
    if len(rest) < 3:
        return True
    sd = float(rest.std(ddof=1))
    return sd <= 0 or (row[j] - float(rest.mean())) / sd <= z_threshold


def impostor_samples(owner: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Every (reference photo, other person) distance."""
    mask = np.ones_like(m, dtype=bool)
    mask[np.arange(len(owner)), owner] = False
    return m[mask]


# ---------------------------------------------------------------- tail model

def fit_lower_tail(samples: np.ndarray) -> tuple[float, float, int]:
    """``(intercept, slope, points)`` of the probit line through the lowest tail of ``samples``:
    sample ≈ intercept + slope × Φ⁻¹(p)."""
    samples = np.asarray(samples, dtype=np.float64)
    n = len(samples)
    k = min(n, max(MIN_TAIL_POINTS, int(math.ceil(TAIL_FRACTION * n))))
    s = np.sort(np.partition(samples, k - 1)[:k]) if k < n else np.sort(samples)
    p = (np.arange(1, k + 1) - 0.5) / n
    z = np.array([_NORMAL.inv_cdf(float(x)) for x in p])
    slope, intercept = _theil_sen(z, s[:k])
    return float(intercept), float(max(slope, 1e-6)), k


def _theil_sen(x: np.ndarray, y: np.ndarray, points: int = 200) -> tuple[float, float]:
    """A straight line robust to a few outlying points (the median of the slopes between pairs of
    points): a twin pair or a child enrolled twice under two ids must not decide the rule for
    everybody — such pairs are listed as look-alikes and their faces go to review."""
    if len(x) > points:
        pick = np.unique(np.linspace(0, len(x) - 1, points).round().astype(int))
        x, y = x[pick], y[pick]
    i, j = np.triu_indices(len(x), 1)
    dx = x[j] - x[i]
    ok = dx > 0
    slope = float(np.median((y[j] - y[i])[ok] / dx[ok]))
    intercept = float(np.median(y - slope * x))
    return slope, intercept


def tail_quantile(intercept: float, slope: float, chance: float) -> float:
    return intercept + slope * _NORMAL.inv_cdf(chance)


def tail_chance(intercept: float, slope: float, value: float) -> float:
    return _NORMAL.cdf((value - intercept) / slope)


def _bootstrap_spread(owner: np.ndarray, m: np.ndarray, chance: float) -> float:
    """Standard error of the extrapolated quantile: the register's people drawn again with
    replacement (a person drawn twice counts twice, never as their own impostor), fitted again."""
    people = m.shape[1]
    rows = np.repeat(np.arange(len(owner)), people)
    cols = np.tile(np.arange(people), len(owner))
    keep = owner[rows] != cols
    rows, cols = rows[keep], cols[keep]
    values = m[rows, cols]
    rng = np.random.default_rng(20)
    estimates = []
    for _ in range(BOOTSTRAP):
        weight = np.bincount(rng.integers(0, people, people), minlength=people)
        w = weight[owner[rows]] * weight[cols]
        samples = np.repeat(values, w)
        if len(samples) < MIN_TAIL_POINTS:
            continue
        a, b, _ = fit_lower_tail(samples)
        estimates.append(tail_quantile(a, b, chance))
    if len(estimates) < 2:
        return 0.0
    return float(np.std(estimates, ddof=1))


# ---------------------------------------------------------------- the rule

def fingerprint(reference_keys, target: float, match_tolerance: float, margin: float) -> str:
    """What a calibration depends on: the reference photos (ids) and the settings."""
    h = hashlib.sha256()
    for key in reference_keys:
        h.update(f"{key}\n".encode())
    h.update(f"{target!r} {match_tolerance!r} {margin!r} {METHOD_VERSION}".encode())
    return h.hexdigest()[:24]


def calibrate(person_ids, encodings, *, target: float = 1e-4, match_tolerance: float = 0.5,
              margin: float = 0.06, basis: str = "") -> Calibration:
    """The identification rule for a register whose reference photos are ``encodings`` (one row per
    photo, ``person_ids`` naming the person of each)."""
    enc = np.asarray(encodings, dtype=np.float64).reshape(-1, 128)
    people, owner, m = person_distances(person_ids, enc)
    n_people, n_refs = len(people), len(enc)
    pairs = n_refs * max(n_people - 1, 0)
    if n_people < MIN_PEOPLE:
        threshold = min(match_tolerance, FALLBACK_THRESHOLD)
        return Calibration(
            threshold=threshold, margin=margin, z_threshold=None, target=target, people=n_people,
            references=n_refs, pairs=pairs, calibrated=False, expected_false_rate=None,
            method="fallback",
            note=(f"Not calibrated: only {n_people} {'person has' if n_people == 1 else 'people have'} reference "
                  f"photos (at least {MIN_PEOPLE} are needed to measure how alike different pupils are); "
                  f"faces are identified only within {threshold:.2f}, and the chance of naming a stranger "
                  "is not measured."),
            fingerprint=basis, lookalike_pairs=closest_pairs(people, owner, m, threshold + margin))

    chance = target / n_people
    # 1. The cohort score carries the target on its own: a never-enrolled face's nearest person
    #    stands out this far with chance target / N per person — the normal quantile, or the
    #    register's own fitted cohort-score tail (minus a safety margin) where that is heavier.
    z_samples = cohort_samples(owner, m)
    za, zb, zk = fit_lower_tail(z_samples)
    z_fitted = tail_quantile(za, zb, chance)
    z_threshold = min(_NORMAL.inv_cdf(chance), z_fitted - Z_SAFETY)
    # 2. The distance is a second line: its own tail model holds it to DISTANCE_FACTOR x target.
    samples = impostor_samples(owner, m)
    a, b, k = fit_lower_tail(samples)
    d_chance = min(0.5, target * DISTANCE_FACTOR) / n_people
    fitted = tail_quantile(a, b, d_chance)
    safety = max(SAFETY_FLOOR, 2 * _bootstrap_spread(owner, m, d_chance))
    threshold = min(match_tolerance, fitted - safety)

    # Both must hold, so the chance is at most the smaller of the two conditions' own chances.
    expected = n_people * min(tail_chance(a, b, threshold), tail_chance(za, zb, z_threshold), _NORMAL.cdf(z_threshold))
    lowest = float(samples.min())
    method = ("cohort score at the normal or fitted quantile of target / people; distance from a probit fit of "
              f"the lowest impostor distances at {DISTANCE_FACTOR} x target / people, minus a safety margin")
    if threshold <= 0:
        threshold = 0.0
    note = (f"Calibrated on {n_people} people ({n_refs} reference photos, {pairs:,} comparisons between "
            f"different people): a face is identified only when its nearest person stands out by "
            f"{-z_threshold:.2f} standard deviations from everybody else and is within {threshold:.3f} "
            f"(closest different people here: {lowest:.3f}), so that at most about {_one_in(target)} faces of "
            "children who are not enrolled would be named as someone.")
    if threshold < 0.1:
        note += (" That is too strict to identify anyone: the people of this register are too alike, or too few, "
                 "to tell apart at this target, so every face is redacted (or held); more reference photos of "
                 "more pupils make the rule more precise.")
    fit = {"intercept": round(a, 5), "slope": round(b, 5), "tail_points": k, "fitted_threshold": round(fitted, 4),
           "safety": round(safety, 4), "lowest_impostor_distance": round(lowest, 4),
           "impostor_median": round(float(np.median(samples)), 4),
           "chance_per_person": chance, "distance_chance_per_person": d_chance,
           "z_intercept": round(za, 5), "z_slope": round(zb, 5), "z_tail_points": zk, "z_fitted": round(z_fitted, 4),
           "z_normal": round(_NORMAL.inv_cdf(chance), 4)}
    return Calibration(threshold=float(threshold), margin=margin, z_threshold=float(z_threshold), target=target,
                       people=n_people, references=n_refs, pairs=pairs, calibrated=True,
                       expected_false_rate=float(expected), method=method, note=note,
                       fingerprint=basis, fit=fit,
                       lookalike_pairs=closest_pairs(people, owner, m, threshold + margin, z_threshold + LOOKALIKE_Z_SLACK))


def _one_in(target: float) -> str:
    return f"1 in {round(1 / target):,}" if target > 0 else "none"
