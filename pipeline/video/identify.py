"""Who a track is: the matches of its sampled frames, combined as the photo rules demand.

- **identified** as P only when its frames agree: at least one frame identifies P, no frame
  identifies anyone else, every uncertain frame has P as its closest person (a weaker view of the
  same tracked face: the frames that identify P rule out a stranger), and at least half of the
  frames with a descriptor point to P;
- **uncertain** (review, as for a photo) when frames point to different people, when too many
  frames match nobody, or when every frame is only uncertain;
- every person any frame came close to (within review tolerance) is a candidate, so a track that
  passes near a never-publish pupil, even in one frame, blocks the clip (``consent.policy``);
- **unknown** when no frame comes close to anyone (or no frame could be encoded).
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
    uncertain = [m for m in matches if m.match == "uncertain"]
    with_descriptor = [i for i, m in enumerate(matches) if m.distance is not None]
    people = {m.person_id for m in identified}
    if not identified and not uncertain:
        closest = min((matches[i].distance for i in with_descriptor), default=None)
        return Match("unknown", None, closest, ()), []
    if len(people) == 1:
        pid = next(iter(people))
        agree = [i for i, m in enumerate(matches) if m.match in ("identified", "uncertain") and m.person_id == pid]
        others = [i for i in with_descriptor if i not in agree]
        best = min(identified, key=lambda m: m.distance)
        if all(m.person_id == pid for m in uncertain) and len(agree) * 2 >= len(with_descriptor):
            return Match("identified", pid, best.distance, ranked), []
        return Match("uncertain", pid, best.distance, ranked), others
    # frames point to different people, or only ever uncertain: a person must decide
    pool = identified or uncertain
    best = min(pool, key=lambda m: m.distance)
    in_question = [i for i, m in enumerate(matches) if m.match in ("identified", "uncertain")
                   and (m.match == "uncertain" or len(people) > 1)]
    return Match("uncertain", best.person_id, best.distance, ranked), in_question
