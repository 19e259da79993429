"""Take names out of a caption, exactly where they are, and tidy the gap they leave.

Per channel: a full name of a person kept on the channel becomes their given name
(``mode="first_only"``); a lone given name stays only when a person kept on the channel has
it; every other name (family names, names of anyone not kept) goes, with its title ("Mrs"),
possessive ("'s") and, inside an e-mail address or a web address, the whole address.
Text without a name comes back unchanged, character for character.
"""
from __future__ import annotations

import bisect
import re

from processors.names.register import as_tuple, given_forms
from processors.names.rules import NameHit, find

_ADDRESS = re.compile(r"(?:https?://|www\.)[^\s<>\"']+|[\w.+\-'’%]+@[\w\-]+(?:\.[\w\-]+)+", re.IGNORECASE)
_MERGE_GAP = re.compile(r"^[\s,&+/_\-]*(?:(?:and|or)\b)?[\s,&+/_\-]*$", re.IGNORECASE)
_TRAILING_CONNECTOR = re.compile(r"(?:\s*,)?\s*(?:\b(?:and|or|with|by|to|for|from|of|featuring|ft\.?)\b|&|\+|,)\s*$",
                                 re.IGNORECASE)
_LIST_CONNECTOR = re.compile(r"\s*(?:,|\band\b|&)\s*$", re.IGNORECASE)
_LEADING_CONNECTOR = re.compile(r"^\s*(?:,|;|:|\band\b|&|\+)\s*", re.IGNORECASE)
_DANGLING_BEFORE = re.compile(r"\s*\b(?:to|with|by|for|of|from)\s*$", re.IGNORECASE)
_PREPOSITION_AFTER = re.compile(r"(?:on|at|in|for|with|from|to|by|of|during|after|before)\b", re.IGNORECASE)


def scrub(text: str, people, keep_ids=frozenset(), mode: str = "first_only") -> str:
    """``text`` with the names of ``people`` removed, except what ``keep_ids`` (people kept on this channel) allow."""
    if not text:
        return text or ""
    people = as_tuple(people)
    hits = find(text, people)
    if not hits:
        return text
    keep_ids = set(keep_ids or ())
    by_id = {p.person_id: p for p in people}
    kept_forms = set()
    if mode == "first_only":
        for pid in keep_ids:
            if pid in by_id and by_id[pid].given:
                kept_forms |= given_forms(by_id[pid].given)
    edits: list[tuple[int, int, str]] = []
    addresses = _addresses(text)
    for hit in hits:
        replacement = _replacement(hit, by_id, keep_ids, kept_forms, mode)
        if replacement == hit.text:
            continue
        start, end = _whole_address(addresses, hit.start, hit.end)
        if (start, end) != (hit.start, hit.end):
            replacement = ""          # an address naming someone goes whole, kept or not
        edits.append((start, end, replacement))
    if not edits:
        return text
    return _apply(text, _merge(text, edits))


def _replacement(hit: NameHit, by_id, keep_ids, kept_forms, mode) -> str:
    if mode != "first_only":
        return ""
    if hit.kind == "full":
        if hit.person_id not in keep_ids:
            return ""
        if hit.part == "given":
            return hit.text
        if hit.part == "family":
            return ""
        given = hit.given_text or by_id[hit.person_id].given
        return given + hit.possessive
    if hit.kind == "given" and (set(hit.people) & keep_ids or hit.form in kept_forms):
        return hit.text
    return ""


def _addresses(text: str) -> list[tuple[int, int]]:
    """Spans of the e-mail and web addresses in ``text`` (without trailing punctuation)."""
    if "@" not in text and "://" not in text and "www." not in text.lower():
        return []
    out = []
    for m in _ADDRESS.finditer(text):
        s, e = m.start(), m.end()
        while e > s and text[e - 1] in ".,;:!?)":
            e -= 1
        out.append((s, e))
    return out


def _whole_address(addresses: list[tuple[int, int]], start: int, end: int) -> tuple[int, int]:
    """A name inside an e-mail or web address takes the whole address with it."""
    i = bisect.bisect_right(addresses, (start, float("inf"))) - 1
    if i >= 0 and addresses[i][0] <= start and end <= addresses[i][1]:
        return addresses[i]
    return start, end


def _merge(text: str, edits: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Neighbouring removals joined by ", ", " and ", "_" ... become one removal (with the joiner)."""
    edits.sort()
    out: list[tuple[int, int, str]] = []
    for s, e, r in edits:
        if out:
            ps, pe, pr = out[-1]
            if s < pe:                       # overlapping (an address holding two names)
                if not pr and not r:
                    out[-1] = (ps, max(pe, e), "")
                continue
            if not pr and not r and _MERGE_GAP.match(text[pe:s]):
                out[-1] = (ps, e, "")
                continue
        out.append((s, e, r))
    return out


_WINDOW = 80   # characters either side of a removal that the tidying looks at


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    """The text with the edits made and each gap tidied; letters outside the gaps are never changed."""
    parts: list[str] = []       # the kept text, in pieces (joined once at the end: linear time)
    emitted = 0                 # characters in parts
    pos = 0

    def emit(piece: str) -> None:
        nonlocal emitted
        if piece:
            parts.append(piece)
            emitted += len(piece)

    for s, e, r in edits:
        if s < pos:             # already taken by the tidying of the previous gap
            s = pos
            if e <= s:
                continue
        emit(text[pos:s])
        if r:
            emit(r)
            pos = e
            continue
        # tidy with a window of the text either side of the gap
        left = _pop_tail(parts, _WINDOW)
        emitted -= len(left)
        right = text[e:e + _WINDOW]
        new_left, rest = _tidy_gap(left, right, at_text_start=emitted == 0, at_text_end=e + _WINDOW >= len(text))
        emit(new_left)
        pos = e + len(right) - len(rest)
    emit(text[pos:])
    return "".join(parts).strip(" \t\u00a0\n")


def _pop_tail(parts: list[str], n: int) -> str:
    """Take the last ``n`` characters off ``parts``."""
    taken, size = [], 0
    while parts and size < n:
        piece = parts.pop()
        taken.append(piece)
        size += len(piece)
    tail = "".join(reversed(taken))
    if len(tail) > n:
        parts.append(tail[:-n])
        tail = tail[-n:]
    return tail


def _opens_sentence(left: str) -> bool:
    """``left`` ends where a sentence or a bracket starts."""
    end = left.rstrip()
    return end == "" or end[-1] in ".!?\n([" or left[-1:] == "\n"


def _tidy_gap(left: str, right: str, *, at_text_start: bool = True, at_text_end: bool = True) -> tuple[str, str]:
    """Tidy around a removed name: ``left`` is (the end of) the text kept before it, ``right`` (the
    start of) the text after it; returns the new ``left`` and what remains of ``right``."""
    # "#" or "@" left alone
    if left.endswith(("#", "@")) and (not left[:-1] or not left[-2].isalnum()):
        left = left[:-1]
    stripped_right = right.lstrip(" \t\u00a0")
    if at_text_start and not left.strip():
        stripped_right = stripped_right.lstrip("-_/+&").lstrip(" \t\u00a0")
    at_end = (not stripped_right and at_text_end) or stripped_right[:1] in tuple(".,;:!?)]\n")
    if at_end:
        # "Well done, Amelia!" -> "Well done!"; "Photo by Amelia." -> "Photo."
        tail = left[-24:]
        m = _TRAILING_CONNECTOR.search(tail)
        if m and (left[:len(left) - len(tail) + m.start()]).strip():
            left = left[:len(left) - len(tail) + m.start()]
        left = left.rstrip(" \t\u00a0")
        if stripped_right[:1] in (",", ";", ":") and (not left or left[-1] in ".!?,;:(\n"):
            stripped_right = stripped_right[1:].lstrip(" \t\u00a0")
        if left.endswith(("(", "[")) and stripped_right[:1] in (")", "]"):
            left, stripped_right = left[:-1].rstrip(" \t\u00a0"), stripped_right[1:]
        if at_text_start and not left.strip():
            stripped_right = stripped_right.lstrip(" \t\u00a0,;:.!?)-_/+&")
        return left, stripped_right
    start = at_text_start and not left.strip()
    if start or _opens_sentence(left):
        # the name opened the text or a sentence: "Amelia Hart, Tom and Zoe" -> "Tom and Zoe"
        stripped_right = _LEADING_CONNECTOR.sub("", stripped_right, count=1)
        if left and not left[-1].isspace() and left[-1] not in "([" and left.strip():
            left += " "
        return left, stripped_right
    # in the middle of a sentence: "Tom, Amelia and Zoe" -> "Tom and Zoe"; "Tom, Amelia won" -> "Tom won"
    cut = len(left) - 24
    tail = left[-24:]
    m = _LIST_CONNECTOR.search(tail)
    d = None if m else _DANGLING_BEFORE.search(tail)
    if m:                          # the name ended a list: "Tom, Amelia and [Zoe] won" -> "Tom, Amelia won"
        left = left[:max(cut, 0) + m.start()]
    elif d and _PREPOSITION_AFTER.match(stripped_right):
        left = left[:max(cut, 0) + d.start()]   # "Congratulations to [Amelia] on" -> "Congratulations on"
    left = left.rstrip(" \t\u00a0")
    if not stripped_right.startswith(("'", "’")):
        left += " "
    return left, stripped_right
