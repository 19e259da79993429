"""The enrolment guard: refuse a reference photo that would make one pupil be taken for another.

A new reference photo is refused when it is

* closer to another person's reference photos than to the same person's other reference photos
  (a photo filed in the wrong folder, or of a sibling), or
* within the identification rule of another person (the rule calibrated on the register as it
  will be with the new photos), so that it could identify that person.

The message names the other person: "looks like P017 — check the folder".
"""
from __future__ import annotations

import numpy as np

from consent.identification.calibration import Calibration, calibrate


def screen(existing_ids: list[str], existing: np.ndarray, new_ids: list[str], new: np.ndarray, *,
           target: float, match_tolerance: float, margin: float) -> tuple[list[str | None], Calibration]:
    """A refusal reason (or None) for each new reference photo, and the rule it was judged by."""
    new = np.asarray(new, dtype=np.float64).reshape(-1, 128)
    existing = np.asarray(existing, dtype=np.float64).reshape(-1, 128)
    all_ids = list(existing_ids) + list(new_ids)
    everything = np.vstack([existing, new]) if len(existing) else new
    if not len(new):
        return [], calibrate(existing_ids, existing, target=target, match_tolerance=match_tolerance, margin=margin)
    cal = calibrate(all_ids, everything, target=target, match_tolerance=match_tolerance, margin=margin)
    owners = np.asarray(all_ids, dtype=object)
    reasons: list[str | None] = []
    for k, (pid, vector) in enumerate(zip(new_ids, new)):
        me = len(existing) + k
        d = np.linalg.norm(everything - vector, axis=1)
        d[me] = np.inf
        own = d[owners == pid]
        others = owners != pid
        if not others.any():
            reasons.append(None)
            continue
        j = int(np.argmin(np.where(others, d, np.inf)))
        nearest, who = float(d[j]), owners[j]
        if nearest <= cal.threshold:
            reasons.append(f"looks like {who} (distance {nearest:.2f}, within the rule that identifies {who}) — "
                           f"check the folder; use a photo that shows {pid} alone")
        elif own.size and np.isfinite(own).any() and nearest < float(own.min()):
            reasons.append(f"looks like {who} — check the folder: this photo is closer to {who}'s reference "
                           f"photos ({nearest:.2f}) than to {pid}'s others ({float(own.min()):.2f})")
        else:
            reasons.append(None)
    return reasons, cal
