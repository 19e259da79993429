"""Find and remove people's names in captions, filenames and metadata text.

One module for the release path (rewriting captions) and the audit (finding full
names): a full name is given + family in either order, "Family, Given", with
initials ("A. Hart", "Amelia H."), possessives, in any case and with or without
accents. Matching works on an accent-folded, case-folded copy of the text and
maps positions back, so the original text is edited in place.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class NamedPerson:
    person_id: str
    given: str
    family: str


# Letters that Unicode does not decompose into a base letter plus an accent.
_LETTERS = {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ß": "ss", "æ": "ae", "Æ": "Ae",
            "œ": "oe", "Œ": "Oe", "ı": "i", "þ": "th", "Þ": "Th", "ð": "d", "Ð": "D"}


def fold(text: str) -> tuple[str, list[int]]:
    """Lower-case, accent-free copy of ``text`` and, for each of its characters, the index in ``text``."""
    out, index = [], []
    for i, ch in enumerate(text):
        decomposed = unicodedata.normalize("NFKD", _LETTERS.get(ch, ch))
        base = "".join(c for c in decomposed if not unicodedata.combining(c)) or ch
        for c in base.casefold():
            out.append(c)
            index.append(i)
    return "".join(out), index


def _word(text: str) -> str:
    """Regex for one name word (folded), tolerant of hyphens/apostrophes/spaces inside it."""
    parts = re.split(r"[\s\-'’]+", fold(text)[0].strip())
    return r"[\s\-'’]*".join(re.escape(p) for p in parts if p)


_POSS = r"(?:['’]s?)?"
_L = r"(?<![\w])"
_R = r"(?![\w])"


def _full_name_patterns(p: NamedPerson) -> list[str]:
    g, f = _word(p.given), _word(p.family)
    gi, fi = re.escape(fold(p.given)[0][:1]), re.escape(fold(p.family)[0][:1])
    sep = r"[\s\u00a0]+"
    return [
        rf"{_L}{g}{sep}{f}{_POSS}{_R}",                 # amelia hart, amelia hart's
        rf"{_L}{f}\s*,\s*{g}{_POSS}{_R}",               # hart, amelia
        rf"{_L}{f}{sep}{g}{_POSS}{_R}",                 # hart amelia
        rf"{_L}{gi}\.?{sep}?{f}{_POSS}{_R}" if len(fold(p.family)[0]) > 1 else None,   # a. hart, a hart
        rf"{_L}{g}{sep}{fi}\.(?!\w)" ,                  # amelia h.
        rf"{_L}{g}{sep}{fi}{_R}",                       # amelia h
        rf"{_L}{gi}\.\s?{fi}\.(?!\w)",                  # a.h.
    ]


@functools.lru_cache(maxsize=16384)
def _compiled_full_patterns(p: NamedPerson) -> tuple[re.Pattern, ...]:
    """Compiled once per person: ``re``'s own cache holds 512 patterns, a register needs 7 per person."""
    return tuple(re.compile(pat) for pat in filter(None, _full_name_patterns(p)))


@dataclass(frozen=True)
class NameHit:
    person_id: str
    start: int
    end: int
    text: str
    kind: str   # "full" | "given" | "family"


def find_names(text: str, people: list[NamedPerson], *, partial: bool = False) -> list[NameHit]:
    """Every full name (and with ``partial`` also lone given/family names) of ``people`` in ``text``.

    Hits never overlap; longer hits win.
    """
    if not text:
        return []
    folded, index = fold(text)
    raw: list[tuple[int, int, str, str]] = []
    for p in people:
        if not p.given or not p.family:
            continue
        for pat in _compiled_full_patterns(p):
            for m in pat.finditer(folded):
                raw.append((m.start(), m.end(), p.person_id, "full"))
        if partial:
            for word, kind in ((p.given, "given"), (p.family, "family")):
                for m in re.finditer(rf"{_L}{_word(word)}{_POSS}{_R}", folded):
                    if text[index[m.start()]].isupper():   # lone names only when written as a name
                        raw.append((m.start(), m.end(), p.person_id, kind))
    raw.sort(key=lambda r: (r[0], -(r[1] - r[0])))
    hits, last_end = [], -1
    for start, end, pid, kind in raw:
        if start < last_end:
            continue
        s, e = index[start], index[end - 1] + 1
        hits.append(NameHit(pid, s, e, text[s:e], kind))
        last_end = end
    return hits


def find_full_names(text: str, people: list[NamedPerson]) -> list[NameHit]:
    return find_names(text, people, partial=False)


def scrub_caption(text: str, people: list[NamedPerson], *, keep_given: set[str], mode: str = "first_only") -> str:
    """Rewrite ``text`` so no full name of anyone in ``people`` remains.

    ``keep_given``: ids of people whose face is kept on this channel; with ``mode="first_only"``
    their full name becomes their given name. Everyone else's name (full or lone given/family)
    is removed entirely. ``mode="none"`` removes every name.
    """
    if not text:
        return ""
    by_id = {p.person_id: p for p in people}
    # A lone given name stays when *someone* of that name is kept here (we cannot tell them apart).
    kept_given_names = {fold(by_id[pid].given)[0] for pid in keep_given if pid in by_id and by_id[pid].given}
    out, pos, drop_next_connector = [], 0, False
    for hit in find_names(text, people, partial=True):
        person = by_id[hit.person_id]
        between = text[pos:hit.start]
        if drop_next_connector:
            between = _LEADING_CONNECTOR.sub(" ", between, count=1)
        out.append(between)
        possessive = re.search(r"['’]s?$", hit.text)
        replacement = ""
        if mode == "first_only":
            if hit.kind == "full" and hit.person_id in keep_given:
                replacement = person.given + (possessive.group(0) if possessive else "")
            elif hit.kind == "given" and fold(person.given)[0] in kept_given_names:
                replacement = hit.text
        drop_next_connector = False
        if not replacement:
            # "Amelia and Zoë at" -> "Amelia at": take the connector that joined the removed name.
            joined = "".join(out)
            stripped = _TRAILING_CONNECTOR.sub("", joined)
            if stripped != joined and stripped.strip():
                out = [stripped + " "]
            else:
                drop_next_connector = True
        out.append(replacement)
        pos = hit.end
    tail = text[pos:]
    if drop_next_connector:
        tail = _LEADING_CONNECTOR.sub(" ", tail, count=1)
    out.append(tail)
    return tidy("".join(out))


_TRAILING_CONNECTOR = re.compile(r"(?i)\s*(?:,\s*(?:and|&)?|\band\b|&|\bwith\b)\s*$")
_LEADING_CONNECTOR = re.compile(r"(?i)^\s*(?:,|\band\b|&|\bwith\b)\s*")


def tidy(text: str) -> str:
    """Clean up the gaps left by removed names: doubled spaces, stray commas and conjunctions."""
    t = re.sub(r"[ \t\u00a0]{2,}", " ", text)
    for _ in range(3):
        t = re.sub(r"\s+([,.;:!?])", r"\1", t)
        t = re.sub(r"([,;])\s*(?=[,;.!?])", "", t)
        t = re.sub(r"(?i)\b(and|&|with)\s*(?=[,.;:!?]|$)", "", t)
        t = re.sub(r"(?i)(^|[(\[:])\s*(and|&|with)\b\s*", r"\1", t)
        t = re.sub(r"(?i)\b(and|&|with)\s+(and|&|with)\b", r"\1", t)
        t = re.sub(r"(?i),\s*(and|&)\s+(?=[A-Za-z])", r" \1 ", t)
        t = re.sub(r"^[\s,;:]+", "", t)
        t = re.sub(r"[ \t]{2,}", " ", t)
        t = re.sub(r"\(\s*\)", "", t)
    return t.strip(" ,;:")
