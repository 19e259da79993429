"""The enrolment guard: refuse a reference photo that would make one pupil be taken for another.

A new reference photo is refused when it is

* identified as another person by the identification rule (distance and cohort score, calibrated
  on the register as it will be with the new photos); or
* closer to another person's reference photos than to the same person's other reference photos
  (a photo filed in the wrong folder, or of a sibling). When several photos of one person break
  this, the worst is refused first and the rest judged again against what remains, so that a
  pupil is not left without any photo because two of theirs disagree with each other.

The message names the other person: "looks like P017 — check the folder".
"""
from __future__ import annotations

import numpy as np

from consent.identification.calibration import Calibration, calibrate, stands_out


def screen(existing_ids: list[str], existing: np.ndarray, new_ids: list[str], new: np.ndarray, *,
           target: float, match_tolerance: float, margin: float) -> tuple[list[str | None], Calibration]:
    """A refusal reason (or None) for each new reference photo, and the rule it was judged by."""
    new = np.asarray(new, dtype=np.float64).reshape(-1, 128)
    existing = np.asarray(existing, dtype=np.float64).reshape(-1, 128)
    if not len(new):
        return [], calibrate(existing_ids, existing, target=target, match_tolerance=match_tolerance, margin=margin)
    owners = np.asarray(list(existing_ids) + list(new_ids), dtype=object)
    everything = np.vstack([existing, new]) if len(existing) else new
    cal = calibrate(owners.tolist(), everything, target=target, match_tolerance=match_tolerance, margin=margin)
    first = len(existing)
    sq = np.einsum("ij,ij->i", everything, everything)
    d = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * everything @ everything.T, 0.0))
    np.fill_diagonal(d, np.inf)
    same = owners[:, None] == owners[None, :]

    reasons: list[str | None] = [None] * len(new)
    alive = np.ones(len(owners), dtype=bool)
    people = sorted(set(owners.tolist()))
    index = {p: n for n, p in enumerate(people)}
    owner_ix = np.array([index[p] for p in owners])
    for k in range(len(new)):
        i = first + k
        row = np.full(len(people), np.inf)
        np.minimum.at(row, owner_ix, d[i])
        row[index[owners[i]]] = np.inf
        j = int(np.argmin(row))
        if not np.isfinite(row[j]) or row[j] > cal.threshold or not stands_out(row, j, cal.z_threshold):
            continue
        who, pid = people[j], owners[i]
        reasons[k] = (f"looks like {who} (distance {row[j]:.2f}: the rule would identify this photo as {who}) — "
                      f"check the folder; use a photo that shows {pid} alone")
        alive[i] = False
    while True:
        worst, worst_ratio = None, 1.0
        for k in range(len(new)):
            i = first + k
            if not alive[i]:
                continue
            own = np.where(same[i] & alive, d[i], np.inf).min()
            other = np.where(~same[i] & alive, d[i], np.inf)
            j = int(other.argmin())
            if np.isfinite(own) and other[j] < own and other[j] / own < worst_ratio:
                worst, worst_ratio = (k, j, float(other[j]), float(own)), other[j] / own
        if worst is None:
            break
        k, j, near, own = worst
        pid, who = owners[first + k], owners[j]
        reasons[k] = (f"looks like {who} — check the folder: this photo is closer to {who}'s reference photos "
                      f"({near:.2f}) than to {pid}'s others ({own:.2f})")
        alive[first + k] = False
    return reasons, cal

