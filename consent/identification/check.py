"""`pipeline consent check`: is the register fit to tell its people apart?

Reports the calibrated identification rule and its basis, and lists what weakens it: pupils with
too few reference photos (fewer than 2; 3 recommended), photos enrolled long ago (children's faces
change quickly; the register knows the enrolment date, not when the photo was taken), a person's
photos so alike that they add nothing, photos closer to another person than to the same person's
others, look-alike pairs (their faces always go to review), and people with consent but no
reference photo (they can never be identified, so they are always redacted).
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np

from consent.identification.calibration import stands_out
from consent.identification.store import current_calibration
from consent.register import load_people, load_reference_encodings

MIN_REFERENCES = 2
RECOMMENDED_REFERENCES = 3
MAX_REFERENCE_AGE_DAYS = 365      # enrolled longer ago than this: ask for a recent photo
NEAR_DUPLICATE = 0.12             # two photos of one person this close add nothing (same shoot, a copy)


@dataclass
class RegisterCheck:
    calibration: dict
    too_few_references: list[dict] = field(default_factory=list)
    too_old: list[dict] = field(default_factory=list)
    too_similar: list[dict] = field(default_factory=list)
    too_close: list[dict] = field(default_factory=list)
    lookalike_pairs: list[dict] = field(default_factory=list)
    consent_without_reference: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"calibration": self.calibration, "too_few_references": self.too_few_references,
                "too_old": self.too_old, "too_similar": self.too_similar, "too_close": self.too_close,
                "lookalike_pairs": self.lookalike_pairs,
                "consent_without_reference": self.consent_without_reference}

    def lines(self) -> list[str]:
        """The report in plain sentences, for the terminal."""
        c = self.calibration
        out = ["Identification rule: " + c["note"]]
        if c["calibrated"]:
            out.append(f"  basis: {c['people']} people, {c['references']} reference photos, {c['pairs']:,} comparisons "
                       f"between different people; target {c['target']:g} false identifications per face; "
                       f"distance threshold {c['threshold_used']:.3f} (match_tolerance is the upper bound), runner-up "
                       f"at least {c['margin']:.2f} further, cohort score at most {c['z_threshold']:.2f}; "
                       f"expected false identifications per face of a child who is not enrolled: "
                       f"{c['expected_false_rate']:.1e}.")
        else:
            out.append(f"  basis: {c['people']} people, {c['references']} reference photos; distance threshold "
                       f"{c['threshold_used']:.3f}, runner-up at least {c['margin']:.2f} further.")
        if self.lookalike_pairs:
            out.append(f"Look-alike pairs ({len(self.lookalike_pairs)}): faces that may be either of them always go "
                       "to review:")
            out += [f"  {p['people'][0]} and {p['people'][1]} ({p['distance']:.2f} apart)" for p in self.lookalike_pairs]
        if self.too_close:
            out.append(f"Reference photos that look like another person ({len(self.too_close)}): check the folder "
                       "and replace them:")
            out += [f"  {x['person_id']} ({x['photo']}) looks like {x['looks_like']} ({x['distance']:.2f})"
                     for x in self.too_close]
        if self.too_few_references:
            out.append(f"Pupils with fewer than {MIN_REFERENCES} reference photos ({len(self.too_few_references)}; "
                       f"{RECOMMENDED_REFERENCES} recommended, from different days): "
                       + ", ".join(x["person_id"] for x in self.too_few_references))
        if self.too_similar:
            out.append("Reference photos of one person that are nearly the same picture (add a different one): "
                       + ", ".join(x["person_id"] for x in self.too_similar))
        if self.too_old:
            out.append(f"Reference photos enrolled more than {MAX_REFERENCE_AGE_DAYS} days ago (enrol a recent one): "
                       + ", ".join(x["person_id"] for x in self.too_old))
        if self.consent_without_reference:
            out.append("Consent but no reference photo (always blurred as unknown until one is enrolled): "
                       + ", ".join(self.consent_without_reference))
        if not self.problems:
            out.append("No problems found in the reference photos.")
        return out

    @property
    def problems(self) -> int:
        return (len(self.too_few_references) + len(self.too_old) + len(self.too_similar) + len(self.too_close)
                + len(self.lookalike_pairs) + len(self.consent_without_reference))


def check_register(conn: sqlite3.Connection, faces_cfg: dict, channels: list[str], today: date) -> RegisterCheck:
    ids, encodings = load_reference_encodings(conn)
    cal = current_calibration(conn, faces_cfg, encodings=(ids, encodings))
    people = {pid: p for pid, p in load_people(conn).items() if not p.forgotten}
    result = RegisterCheck(calibration={**cal.to_json(), "threshold_used": min(cal.threshold, faces_cfg["match_tolerance"])})

    counts: dict[str, int] = {}
    for pid in ids:
        counts[pid] = counts.get(pid, 0) + 1
    for pid, person in sorted(people.items()):
        n = counts.get(pid, 0)
        consented = any(person.effective_status(c, today) == "granted" for c in channels)
        if n == 0:
            if consented:
                result.consent_without_reference.append(pid)
            continue
        if person.role == "pupil" and n < MIN_REFERENCES:
            result.too_few_references.append({"person_id": pid, "reference_photos": n,
                                              "needed": MIN_REFERENCES, "recommended": RECOMMENDED_REFERENCES})

    for pid, newest in conn.execute(
            "SELECT r.person_id, max(r.created_at) FROM reference_encodings r JOIN people p ON p.person_id = r.person_id "
            "WHERE p.forgotten_at IS NULL AND p.biometric = 1 GROUP BY r.person_id ORDER BY r.person_id"):
        age = (today - datetime.fromisoformat(newest).date()).days
        if age > MAX_REFERENCE_AGE_DAYS:
            result.too_old.append({"person_id": pid, "newest_enrolled": newest[:10], "days": age})

    files = [r[0] for r in conn.execute(
        "SELECT r.source_name FROM reference_encodings r JOIN people p ON p.person_id = r.person_id "
        "WHERE p.forgotten_at IS NULL AND p.biometric = 1 ORDER BY r.id")]
    if len(ids):
        owners = np.asarray(ids, dtype=object)
        enc = np.asarray(encodings)
        d = np.linalg.norm(enc[:, None, :] - enc[None, :, :], axis=2)
        np.fill_diagonal(d, np.inf)
        seen_similar = set()
        for r, pid in enumerate(owners):
            own = owners == pid
            other = ~own
            if own.sum() > 1:
                k = int(np.argmin(np.where(own, d[r], np.inf)))
                if d[r, k] < NEAR_DUPLICATE and pid not in seen_similar:
                    seen_similar.add(pid)
                    result.too_similar.append({"person_id": pid, "distance": round(float(d[r, k]), 4)})
            if other.any():
                j = int(np.argmin(np.where(other, d[r], np.inf)))
                nearest_own = float(np.min(np.where(own, d[r], np.inf)))
                per_person = {}
                for q, dist in zip(owners[other], d[r][other]):
                    per_person[q] = min(per_person.get(q, np.inf), dist)
                row = np.array(list(per_person.values()))
                named = d[r, j] <= cal.threshold and stands_out(row, int(np.argmin(row)), cal.z_threshold)
                if named or (np.isfinite(nearest_own) and d[r, j] < nearest_own):
                    result.too_close.append({"person_id": pid, "photo": files[r] if r < len(files) else None, "looks_like": owners[j],
                                             "distance": round(float(d[r, j]), 4),
                                             "own_distance": None if not np.isfinite(nearest_own) else round(nearest_own, 4)})
    result.lookalike_pairs = [{"people": [a, b], "distance": dist} for a, b, dist in cal.lookalike_pairs]
    return result
