"""Who a track is: the matches of its sampled frames, combined as the photo rules demand.

- identified only when its frames agree: at least one frame identifies the person, no frame
  identifies anyone else, no frame is uncertain, and the frames that carry a descriptor mostly
  (at least half) match that person;
- uncertain when any frame is uncertain or the frames disagree (review, as for a photo);
- every person any frame came close to (within review tolerance) is a candidate, so a track that
  passes near a never-publish pupil, even in one frame, blocks the clip (``consent.policy``).
"""
from __future__ import annotations

from consent.matching import Match


def combine(matches: list[Match]) -> tuple[Match, list[int]]:
    """One Match for the whole track, and the indexes (into ``matches``) of the frames in question."""
    candidates: dict[str, float] = {}
    for m in matches:
        for pid, d in m.candidates:
            candidates[pid] = min(d, candidates.get(pid, float("inf")))
    ranked = tuple(sorted(candidates.items(), key=lambda kv: kv[1]))
    identified = [m for m in matches if m.match == "identified"]
    uncertain = [i for i, m in enumerate(matches) if m.match == "uncertain"]
    with_descriptor = [m for m in matches if m.distance is not None]
    people = {m.person_id for m in identified}
    if uncertain:
        best = min((matches[i] for i in uncertain), key=lambda m: m.distance)
        return Match("uncertain", best.person_id, best.distance, ranked), uncertain
    if len(people) > 1:
        disagree = [i for i, m in enumerate(matches) if m.match == "identified"]
        best = min(identified, key=lambda m: m.distance)
        return Match("uncertain", best.person_id, best.distance, ranked), disagree
    if people:
        pid = next(iter(people))
        if len(identified) * 2 < len(with_descriptor):
            odd = [i for i, m in enumerate(matches) if m.distance is not None and m.match != "identified"]
            best = min(identified, key=lambda m: m.distance)
            return Match("uncertain", pid, best.distance, ranked), odd
        best = min(identified, key=lambda m: m.distance)
        return Match("identified", pid, best.distance, ranked), []
    closest = min((m.distance for m in with_descriptor), default=None)
    return Match("unknown", None, closest, ()), []
