"""Per-channel decisions for each face, and the image status that follows (DESIGN.md steps 5-6).

keep   identified (or confirmed by a reviewer), consent granted on the channel, not expired
blur   refused, withdrawn, expired, unknown (unknown is configurable: blur | review | block),
       uncertain when ``[faces] uncertain = "redact"`` (the default)
review uncertain when ``[faces] uncertain = "review"``, and always a face that may be either of a
       look-alike pair in the register — nothing is released until a person decides
block  identified, confirmed or uncertain against a never-publish person: blocked everywhere
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from consent.matching import Match

SEVERITY = {"keep": 0, "blur": 1, "review": 2, "block": 3}


@dataclass(frozen=True)
class FaceDecision:
    decisions: dict[str, str]   # channel -> keep|blur|review|block
    reasons: dict[str, str]     # channel -> short reason, e.g. "refused", "unknown", "never publish"


def decide_face(match: Match, people: dict, channels: list[str], today: date, *,
                unknown_action: str = "blur", uncertain_action: str = "redact",
                confirmed: str | None = None) -> FaceDecision:
    """Decide one face on every channel.

    ``confirmed`` is a reviewer's answer: a person id, or ``"unknown"`` (not anyone in the register,
    which is redacted like any stranger).
    """
    def every(decision: str, reason: str) -> FaceDecision:
        return FaceDecision({c: decision for c in channels}, {c: reason for c in channels})

    # A never-publish child who might be this face blocks the image, whatever else matched.
    suspects = [pid for pid, _ in match.candidates]
    if confirmed is not None:
        suspects = [] if confirmed == "unknown" else [confirmed]
    elif match.person_id:
        suspects.append(match.person_id)
    for pid in suspects:
        person = people.get(pid)
        if person is not None and person.never_publish:
            return every("block", "never publish")

    if confirmed == "unknown":
        return every("blur", "not in the register (reviewed)")
    person_id = confirmed or (match.person_id if match.match == "identified" else None)
    if person_id is None:
        if match.match == "uncertain":
            if match.why == "look-alike":
                return every("review", "look-alike pair in the register")
            return every("review" if uncertain_action == "review" else "blur", "uncertain match")
        action = unknown_action if match.match == "unknown" else "review"
        return every(action, "unknown")
    person = people.get(person_id)
    if person is None or person.forgotten:
        return every("blur", "not in the register")
    decisions, reasons = {}, {}
    for channel in channels:
        status = person.effective_status(channel, today)
        decisions[channel] = "keep" if status == "granted" else "blur"
        reasons[channel] = status
    return FaceDecision(decisions, reasons)


def image_status(face_decisions: list[FaceDecision], channels: list[str], *,
                 release_when_all_blurred: bool = True) -> tuple[str, str]:
    """``(status, reason)`` for the whole image from its faces' decisions."""
    everything = [d for fd in face_decisions for d in fd.decisions.values()]
    if "block" in everything:
        n = sum(1 for fd in face_decisions if "block" in fd.decisions.values())
        return "blocked", f"{n} face(s) of a person who must never be published (or possibly them)"
    if "review" in everything:
        n = sum(1 for fd in face_decisions if "review" in fd.decisions.values())
        return "review", f"{n} face(s) need a person to decide ({_why_review(face_decisions)})"
    if not release_when_all_blurred and face_decisions:
        all_blurred = [c for c in channels if all(fd.decisions[c] == "blur" for fd in face_decisions)]
        if all_blurred:
            return "review", f"every face would be blurred on {', '.join(all_blurred)}"
    return "released", summarise(face_decisions, channels)


def _why_review(face_decisions: list[FaceDecision]) -> str:
    reasons = sorted({fd.reasons[c] for fd in face_decisions for c, d in fd.decisions.items() if d == "review"})
    return ", ".join(reasons)


def summarise(face_decisions: list[FaceDecision], channels: list[str]) -> str:
    if not face_decisions:
        return "no faces found"
    kept = sum(1 for fd in face_decisions if all(d == "keep" for d in fd.decisions.values()))
    blurred_everywhere = [fd for fd in face_decisions if all(d == "blur" for d in fd.decisions.values())]
    mixed = len(face_decisions) - kept - len(blurred_everywhere)
    parts = []
    if kept:
        parts.append(f"{kept} face{'s' if kept != 1 else ''} kept")
    if mixed:
        parts.append(f"{mixed} blurred on some channels")
    if blurred_everywhere:
        why = sorted({fd.reasons[channels[0]] for fd in blurred_everywhere})
        parts.append(f"{len(blurred_everywhere)} blurred ({', '.join(why)})")
    return ", ".join(parts)
