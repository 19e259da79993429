"""Take names out of a caption, exactly where they are, and tidy the gap they leave.

Per channel: a full name of a person kept on the channel becomes their given name
(``mode="first_only"``); a lone given name stays only when a person kept on the channel has
it; every other name (family names, names of anyone not kept) goes, with its title ("Mrs"),
possessive ("'s") and, inside an e-mail address or a web address, the whole address.
Text without a name comes back unchanged, character for character.
"""
from __future__ import annotations

import re

from processors.names.register import as_tuple, given_forms
from processors.names.rules import NameHit, find

_ADDRESS = re.compile(r"(?:https?://|www\.)[^\s<>\"']+|[\w.+\-'’%]+@[\w\-]+(?:\.[\w\-]+)+", re.IGNORECASE)
_MERGE_GAP = re.compile(r"^[\s,&+/_\-]*(?:(?:and|or)\b)?[\s,&+/_\-]*$", re.IGNORECASE)
_TRAILING_CONNECTOR = re.compile(r"(?:\s*,)?\s*(?:\b(?:and|or|with|by|to|for|from|of|featuring|ft\.?)\b|&|\+|,)\s*$",
                                 re.IGNORECASE)
_LIST_CONNECTOR = re.compile(r"\s*(?:,|\band\b|&)\s*$", re.IGNORECASE)
_LEADING_CONNECTOR = re.compile(r"^\s*(?:,|;|:|\band\b|&|\+)\s*", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?:^|[.!?\n]\s*|[(\[]\s*)$")


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
    for hit in hits:
        replacement = _replacement(hit, by_id, keep_ids, kept_forms, mode)
        if replacement == hit.text:
            continue
        start, end = _whole_address(text, hit.start, hit.end)
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


def _whole_address(text: str, start: int, end: int) -> tuple[int, int]:
    """A name inside an e-mail or web address takes the whole address with it."""
    lo = max(0, start - 300)
    for m in _ADDRESS.finditer(text, lo, min(len(text), end + 300)):
        if m.start() <= start and end <= m.end():
            s, e = m.start(), m.end()
            while e > s and text[e - 1] in ".,;:!?)":
                e -= 1
            return s, e
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


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    out = ""
    pos = 0
    upper_next = False
    for s, e, r in edits:
        if s < pos:             # already taken by the tidying of the previous gap
            s = pos
            if e <= s:
                continue
        piece = text[pos:s]
        if upper_next and piece:
            piece, upper_next = piece[:1].upper() + piece[1:], False
        out += piece
        if r:
            out += r
            pos = e
            upper_next = False
            continue
        right = text[e:]
        out, rest = _tidy_gap(out, right)
        pos = len(text) - len(rest)
        upper_next = bool(rest) and rest[:1] != right[len(right) - len(rest):][:1]   # capitalised by the tidying
    piece = text[pos:]
    if upper_next and piece:
        piece = piece[:1].upper() + piece[1:]
    out += piece
    return out.strip(" \t\u00a0\n")


def _tidy_gap(left: str, right: str) -> tuple[str, str]:
    """Tidy around a removed name: ``left`` is the text kept before it, ``right`` all the text after it."""
    # "#" or "@" left alone
    if left.endswith(("#", "@")) and (not left[:-1] or not left[-2].isalnum()):
        left = left[:-1]
    stripped_right = right.lstrip(" \t\u00a0")
    at_end = not stripped_right or stripped_right[0] in ".,;:!?)]\n"
    if at_end:
        # "Well done, Amelia!" -> "Well done!"; "Photo by Amelia." -> "Photo."
        m = _TRAILING_CONNECTOR.search(left)
        if m and left[:m.start()].strip():
            left = left[:m.start()]
        left = left.rstrip(" \t\u00a0")
        if stripped_right[:1] in (",", ";", ":") and (not left or left[-1] in ".!?,;:(\n"):
            stripped_right = stripped_right[1:].lstrip(" \t\u00a0")
        if left.endswith(("(", "[")) and stripped_right[:1] in (")", "]"):
            left, stripped_right = left[:-1].rstrip(" \t\u00a0"), stripped_right[1:]
        return left, stripped_right
    if not left.strip() or _SENTENCE_END.search(left):
        # the name opened the text or a sentence: "Amelia Hart, Tom and Zoe" -> "Tom and Zoe"
        stripped_right = _LEADING_CONNECTOR.sub("", stripped_right, count=1)
        if not left.strip() or left.rstrip()[-1:] in ".!?\n":
            stripped_right = stripped_right[:1].upper() + stripped_right[1:]
        if left and not left[-1].isspace() and left[-1] not in "([" and left.strip():
            left += " "
        return left, stripped_right
    # in the middle of a sentence: "Tom, Amelia and Zoe" -> "Tom and Zoe"; "Tom, Amelia won" -> "Tom won"
    m = _LIST_CONNECTOR.search(left)
    if m:                          # the name ended a list: "Tom, Amelia and [Zoe] won" -> "Tom, Amelia won"
        left = left[:m.start()]
    left = left.rstrip(" \t\u00a0")
    if not stripped_right.startswith(("'", "’")):
        left += " "
    return left, stripped_right
