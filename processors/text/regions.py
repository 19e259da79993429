"""From read lines to text regions: which parts of the picture name someone, and who.

Every recognised line goes through the name engine (:func:`processors.names.find_names`, the
same one captions use). OCR reads names imperfectly (a dropped accent, one wrong letter, two
words run together), so before matching, each word that is one edit away from a name in the
register (five letters or more) is read as that name; the original line's characters are kept
for the positions. A name's character span is mapped to a sub-box of the line (from the
recogniser's character positions when it gave them, else in proportion), padded by half a
letter each side; when that is not possible the whole line is the region.

Rules (DESIGN.md "Names — in the picture too", issue 17):

- a full name of anyone in the register, or the family name of a pupil → redacted on every channel;
- a lone given name, or a member of staff's lone family name → kept on a channel only where that
  person (or someone of that name) is kept, as captions do;
- where the detector probably missed a name's other part (a given name ending its line, a family name
  alone on its line) → the area beside it, as that part would be (kind ``unread``);
- ``all_text=True`` → every line is redacted on every channel.

A region records its box, polygon, decisions per channel and why (a person id); never the text.
"""
from __future__ import annotations

import functools
import inspect
import re
from dataclasses import dataclass

import cv2
import numpy as np

from processors import names as name_engine
from processors.text.engine import TextLine

CONDITIONAL = "conditional"   # kept only where one of ``people`` is kept
WHOLE_LINE_SHARE = 0.5        # a redacted name this share of a line's letters or more takes the whole line


@dataclass
class TextRegion:
    polygon: np.ndarray            # (4, 2) in image pixels
    kind: str                      # "full" | "family" | "given" | "unread" | "all" | "text"
    person: str | None = None      # why: the person named (never the name itself)
    rule: str = "keep"             # "redact" (every channel) | "conditional" | "keep"
    people: tuple[str, ...] = ()   # for "conditional": kept where one of these is kept

    def box(self) -> tuple[int, int, int, int]:
        """``(top, right, bottom, left)`` around the polygon, rounded outwards."""
        xs, ys = self.polygon[:, 0], self.polygon[:, 1]
        return (int(np.floor(ys.min())), int(np.ceil(xs.max())), int(np.ceil(ys.max())), int(np.floor(xs.min())))


# --- name matching --------------------------------------------------------------------------

def _supports_partial() -> bool:
    try:
        return "partial" in inspect.signature(name_engine.find_names).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False


def find_names(text: str, people: list) -> list:
    """Every name hit (full, and lone given/family) in ``text``: the name engine, whichever version."""
    if _supports_partial():
        return name_engine.find_names(text, people, partial=True)
    return name_engine.find_names(text, people)


def fold(text: str) -> str:
    """The name engine's case- and accent-folded form of ``text`` (its older version also returned a map)."""
    folded = name_engine.fold(text)
    return folded[0] if isinstance(folded, tuple) else folded


@functools.lru_cache(maxsize=8)
def _vocabulary(names: tuple[str, ...]) -> dict[str, set[str]]:
    """Deletion index of register name words (folded, 5+ letters): every word with one letter
    removed → the words it may come from (finds words one edit apart without comparing all)."""
    index: dict[str, set[str]] = {}
    for word in names:
        if len(word) < 5:
            continue
        index.setdefault(word, set()).add(word)
        for i in range(len(word)):
            index.setdefault(word[:i] + word[i + 1:], set()).add(word)
    return index


def _one_edit(a: str, b: str) -> bool:
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) == 1
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1:]


def _name_words(people: list) -> tuple[tuple[str, ...], dict[str, tuple[str, str]]]:
    words, pairs = set(), {}
    for p in people:
        g, f = fold(p.given or "").strip(), fold(p.family or "").strip()
        for w in (g, f):
            if w and " " not in w:
                words.add(w)
        if g and f:
            pairs[g + f] = (p.given, p.family)
            pairs[f + g] = (p.family, p.given)
    return tuple(sorted(words)), pairs


_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")


def _without_accented_letters(people: list) -> dict[str, str]:
    """Register name words as the recogniser reads them when its alphabet lacks their accented
    letters and drops them ("Zoë" → "zo", "Łukasz" → "ukasz") → the folded name word."""
    out: dict[str, str] = {}
    for p in people:
        for word in (p.given or "", p.family or ""):
            for part in word.split():
                if part.isascii():
                    continue
                short = fold("".join(ch for ch in part if ch.isascii())).strip()
                if len(short) >= 2 and short != fold(part).strip():
                    out.setdefault(short, fold(part).strip())
    return out


def _near(folded: str, index: dict[str, set[str]]) -> str | None:
    """The one register name word ``folded`` is, or is one edit (or an "rn"/"m" slip) away from."""
    if folded in index.get(folded, ()):
        return folded
    if len(folded) < 5:
        return None
    # "rn" read for "m" and "vv" for "w" are the recogniser's commonest slips.
    for form in dict.fromkeys((folded, folded.replace("rn", "m"), folded.replace("vv", "w"))):
        candidates = set(index.get(form, ()))
        for i in range(len(form)):
            candidates |= index.get(form[:i] + form[i + 1:], set())
        near = sorted(c for c in candidates if _one_edit(form, c))
        if len(near) == 1:
            return near[0]
        if near:
            return None
    return None


def correct(text: str, people: list) -> tuple[str, list[int]]:
    """``text`` with near-misses of register names read as those names; and for each character of
    the result, the index of the character of ``text`` it stands for.

    Handled: one wrong letter (names of five letters or more), "rn" for "m", a name split by a
    stray space ("Mu rphy"), and given and family name run together ("AmeliaHart").
    """
    words, pairs = _name_words(people)
    index = _vocabulary(words)
    stripped = _without_accented_letters(people)
    tokens = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    out, where, pos, i = [], [], 0, 0
    while i < len(tokens):
        s, e = tokens[i]
        token = text[s:e]
        folded = fold(token)
        replacement = None
        if folded in pairs:                               # "AmeliaHart": two words run together
            a, b = pairs[folded]
            replacement = a + " " + b
        elif folded not in index.get(folded, ()):
            joined = None
            if i + 1 < len(tokens) and text[e:tokens[i + 1][0]] == " ":
                nxt = fold(text[tokens[i + 1][0]:tokens[i + 1][1]])
                if nxt not in index.get(nxt, ()):
                    joined = _near(folded + nxt, index)
            if joined is not None and (joined == folded + nxt or _near(folded, index) is None):
                replacement, e, i = joined, tokens[i + 1][1], i + 1     # "Mu rphy": a stray space
                token = text[s:e]
            else:
                replacement = _near(folded, index)
            if replacement is None and folded in stripped:     # "Zo" for "Zoë": the letter is not in
                replacement = stripped[folded]                   # the recogniser's alphabet
        out.append(text[pos:s])
        where.extend(range(pos, s))
        if replacement is None or replacement == folded:
            out.append(token)
            where.extend(range(s, e))
        else:
            if token.replace(" ", "").isupper():
                replacement = replacement.upper()
            elif token[:1].isupper():
                replacement = " ".join(w[:1].upper() + w[1:] for w in replacement.split(" "))
            out.append(replacement)
            n, span = len(replacement), e - s
            where.extend(s + min(span - 1, (k * span) // max(n, 1)) for k in range(n))
        pos = e
        i += 1
    out.append(text[pos:])
    where.extend(range(pos, len(text)))
    return "".join(out), where


# --- geometry ---------------------------------------------------------------------------------

def sub_polygon(line: TextLine, start: int, end: int) -> np.ndarray:
    """The part of ``line``'s quadrilateral holding characters ``start:end`` of its text, padded
    by half a letter each side (the whole line when the positions are unknown)."""
    quad = line.polygon.astype(np.float32)
    n = len(line.text)
    if n == 0 or start <= 0 and end >= n:
        return quad
    tl, tr, br, bl = quad
    axis = ((tr - tl) + (br - bl)) / 2
    length = float(np.linalg.norm(axis))
    if length < 1:
        return quad
    unit = axis / length
    if line.char_polygons is not None and len(line.char_polygons) == n:
        pts = np.concatenate([line.char_polygons[i] for i in range(start, end)])
        proj = (pts - tl) @ unit
        a, b = float(proj.min()) / length, float(proj.max()) / length
    else:
        a, b = start / n, end / n
    pad = max(0.5 * line.height, 0.6 * length / max(n, 1)) / length
    a, b = max(0.0, a - pad), min(1.0, b + pad)
    return np.array([tl + (tr - tl) * a, tl + (tr - tl) * b, bl + (br - bl) * b, bl + (br - bl) * a],
                    dtype=np.float32)


# --- the rule ---------------------------------------------------------------------------------

def text_regions(lines: list[TextLine], people: list, roles: dict[str, str], *,
                 names: str = "redact", all_text: bool = False) -> list[TextRegion]:
    """The regions of ``lines`` with what to do with each.

    ``people``: the name engine's people (``NamedPerson``); ``roles``: person id → ``pupil``/``staff``.
    """
    regions: list[TextRegion] = []
    given_of: dict[str, set[str]] = {}
    for p in people:
        given_of.setdefault(fold(p.given or ""), set()).add(p.person_id)
    by_id = {p.person_id: p for p in people}

    def namesakes(pid: str) -> tuple[str, ...]:
        """Everyone with ``pid``'s given name (a lone given name is kept where any of them is kept)."""
        person = by_id.get(pid)
        return tuple(sorted(given_of.get(fold(person.given), {pid}))) if person and person.given else (pid,)
    if names == "redact" and not all_text and people:
        # A name the detector split over two boxes: only the hits that cross the join are new.
        for joined, _, _, cut in joined_pairs(lines):
            for start, end, pid, kind in _hits(joined, people):
                if start < cut < end - 1:
                    regions.append(TextRegion(sub_polygon(joined, start, end), kind, pid,
                                              "redact" if kind == "full" else CONDITIONAL, (pid,)))
    where: list[int | None] = [None] * len(regions)  # the line each region is on (None: a joined pair)
    for index, line in enumerate(lines):
        where += [index - 1] * (len(regions) - len(where))  # (what the previous line added)
        if all_text:
            hits = _hits(line, people) if names == "redact" else []
            who = next((h[1] for h in hits if h[2] == "full"), hits[0][1] if hits else None)
            regions.append(TextRegion(line.polygon, "all", who, "redact"))
            continue
        hits = _hits(line, people) if names == "redact" else []
        if not hits:
            regions.append(TextRegion(line.polygon, "text"))
            continue
        letters = sum(1 for ch in line.text if not ch.isspace()) or 1
        for start, end, pid, kind in hits:
            poly = sub_polygon(line, start, end)
            role = roles.get(pid, "pupil")
            if (kind == "full" or (kind == "family" and role != "staff")) and \
                    sum(1 for ch in line.text[start:end] if not ch.isspace()) >= WHOLE_LINE_SHARE * letters:
                # The name is most of the line (a badge, a shirt, a certificate's name line): the rest
                # is most likely the part of it the recogniser misread, so the whole line goes.
                poly = line.polygon.astype(np.float32)
            if kind == "full" or (kind == "family" and role != "staff"):
                regions.append(TextRegion(poly, kind, pid, "redact"))
            else:
                same = namesakes(pid) if kind == "given" else (pid,)
                regions.append(TextRegion(poly, kind, pid, CONDITIONAL, same))
            unread = _unread_other_part(line, start, end, kind, by_id.get(pid), lines)
            if unread is not None and kind == "given":   # the family name, probably: as a family name would be
                regions.append(TextRegion(unread, "unread", pid, "redact" if role != "staff" else CONDITIONAL, (pid,)))
            elif unread is not None:                     # the given name, probably: as a given name would be
                regions.append(TextRegion(unread, "unread", pid, CONDITIONAL, namesakes(pid)))
    where += [len(lines) - 1] * (len(regions) - len(where))
    return _stacked_full_names(regions, where, lines)


# Where a name's other part was probably not read (see _unread_other_part): the part is taken to be its
# letters and a space long, at the letter width of the part that was read, plus UNREAD_MARGIN letters.
UNREAD_MARGIN = 1.0
UNREAD_OVERLAP = 0.1    # ...unless that area holds another line read as something else (this share of it)


def _unread_other_part(line: TextLine, start: int, end: int, kind: str, person, lines: list[TextLine]):
    """The area where a name's other part probably is but was not read, or None.

    A given name that ends its line ("Amelia", "AmeliaH") is taken to be followed by its person's family
    name, and a family name alone on its line preceded by the given name, when the detector cut the line short
    or did not see that part at all (small letters turned by 25-30 degrees on a large photo: measured,
    "Amelia" read and "Hart" beside it not found). The polygon continues the line beyond the part read
    by the other part's length; None when the line goes on with other letters, or when that area holds
    another line the recogniser read as something else."""
    if person is None or kind not in ("given", "family"):
        return None
    other = (person.family if kind == "given" else person.given) or ""
    if not other.strip():
        return None
    # (A given name ending its line; a family name that is its line, since "HART, Amelia" and
    # "Hart Amelia" put the given name after it.)
    rest = line.text[end:] if kind == "given" else line.text[:start] + line.text[end:]
    if sum(ch.isalnum() for ch in rest) > 1:
        return None
    p = sub_polygon(line, start, end)
    top = p[1] - p[0]
    length = float(np.linalg.norm(top))
    if length < 1:
        return None
    unit = top / length
    letter = length / (end - start + 1)   # (sub_polygon pads about half a letter each side)
    reach = unit * letter * (len(other) + 1 + UNREAD_MARGIN)
    if kind == "given":
        area = np.array([p[1], p[1] + reach, p[2] + reach, p[2]], dtype=np.float32)
    else:
        area = np.array([p[0] - reach, p[0], p[3], p[3] - reach], dtype=np.float32)
    for other_line in lines:
        if other_line is line or not any(ch.isalnum() for ch in other_line.text):
            continue
        q = other_line.polygon.astype(np.float32)
        own = abs(cv2.contourArea(q))
        inter, _ = cv2.intersectConvexConvex(area, q)
        if own > 0 and inter >= UNREAD_OVERLAP * own:
            return None
    return area


def _stacked_full_names(regions: list[TextRegion], where: list[int | None], lines: list[TextLine]) -> list[TextRegion]:
    """A given name and the family name of the same person on two lines set one under the other (the
    usual name badge: "Barack" / "OBAMA") are that person's full name: redacted on every channel,
    even where a member of staff's lone given and family names would each be kept."""
    parts = [(i, r) for i, r in enumerate(regions) if r.kind in ("given", "family") and where[i] is not None]
    full: set[int] = set()
    for i, a in parts:
        for j, b in parts:
            if a.kind == "given" and b.kind == "family" and a.person == b.person and where[i] != where[j] \
                    and _stacked(lines[where[i]], lines[where[j]]):
                full |= {i, j}
    return [TextRegion(r.polygon, "full", r.person, "redact") if i in full else r for i, r in enumerate(regions)]


def _stacked(a: TextLine, b: TextLine) -> bool:
    """One of the lines is set directly above the other: the same slant and about the same letter height,
    within two line heights of each other across the lines, overlapping along them."""
    ta, _ = _axis(a.polygon)
    tb, _ = _axis(b.polygon)
    if ta is None or tb is None or float(ta @ tb) < 0.985 or not (0.6 <= b.height / max(a.height, 1) <= 1.7):
        return False
    normal = np.array([-ta[1], ta[0]])
    across = abs(float((b.polygon.mean(axis=0) - a.polygon.mean(axis=0)) @ normal))
    if not (0.5 * min(a.height, b.height) <= across <= 2.0 * max(a.height, b.height)):
        return False
    pa, pb = a.polygon @ ta, b.polygon @ ta
    return min(pa.max(), pb.max()) - max(pa.min(), pb.min()) > 0


def joined_pairs(lines: list[TextLine]) -> list[tuple[TextLine, int, int, TextLine]]:
    """Pairs of lines the detector split that read on as one (same height and slant, the second
    starting within two letter-heights of the end of the first): ``(joined line, i, j, …)``.
    A name split across them ("SIOBHAN" | "MURPHY") is then found in the joined text."""
    out = []
    for i, a in enumerate(lines):
        ta, ra = _axis(a.polygon)
        if ta is None:
            continue
        for j, b in enumerate(lines):
            if i == j:
                continue
            tb, _ = _axis(b.polygon)
            if tb is None or float(ta @ tb) < 0.985:                  # more than ~10 degrees apart
                continue
            ha, hb = a.height, b.height
            if not (0.7 <= hb / max(ha, 1) <= 1.4):
                continue
            gap = _mid(b.polygon, left=True) - _mid(a.polygon, left=False)
            along, across = float(gap @ ta), abs(float(gap @ np.array([-ta[1], ta[0]])))
            # (A line turned by ~30 degrees is split into boxes that overlap by up to a letter.)
            if -1.0 * ha <= along <= 2.0 * ha and across <= 0.35 * ha:
                joined_chars = None
                if a.char_polygons is not None and b.char_polygons is not None:
                    space = np.array([a.polygon[1], b.polygon[0], b.polygon[3], a.polygon[2]], dtype=np.float32)
                    joined_chars = list(a.char_polygons) + [space] + list(b.char_polygons)
                quad = np.array([a.polygon[0], b.polygon[1], b.polygon[2], a.polygon[3]], dtype=np.float32)
                out.append((TextLine(quad, a.text + " " + b.text, min(a.score, b.score), joined_chars), i, j,
                            len(a.text)))
    return out


def _axis(quad: np.ndarray):
    v = ((quad[1] - quad[0]) + (quad[2] - quad[3])) / 2
    n = float(np.linalg.norm(v))
    return (v / n, n) if n >= 1 else (None, 0.0)


def _mid(quad: np.ndarray, *, left: bool) -> np.ndarray:
    return (quad[0] + quad[3]) / 2 if left else (quad[1] + quad[2]) / 2


def _hits(line: TextLine, people: list) -> list[tuple[int, int, str, str]]:
    """``(start, end, person_id, kind)`` in ``line.text`` positions."""
    if not line.text.strip() or not people:
        return []
    corrected, where = correct(line.text, people)
    out = []
    for h in find_names(corrected, people):
        if h.end <= h.start:
            continue
        s, e = where[h.start], where[h.end - 1] + 1
        out.append((s, e, h.person_id, h.kind))
    if not out:
        out = _lone_family_name(corrected, where, people) or _lone_given_name(corrected, where, people)
    return [_with_misread_family(h, corrected, where, people) if h[3] == "given" else h for h in out]


def _lone_given_name(text: str, where: list[int], people: list) -> list[tuple[int, int, str, str]]:
    """A line that is a given name and nothing else ("ROSE" on a peg, "Kit" on a badge): a given name,
    even one that is an everyday word the name engine would not take alone (Rose, Kit, Jack) — kept,
    as a lone given name is, only where its person is kept."""
    words = list(_WORD.finditer(text))
    if len(words) != 1 or text.replace(words[0].group(0), "").strip(" .,:!-"):
        return []
    m = words[0]
    folded = fold(m.group(0))
    # (One region: text_regions keeps it where any person of that given name is kept.)
    return [(where[m.start()], where[m.end() - 1] + 1, p.person_id, "given")
            for p in people if p.given and fold(p.given).strip() == folded][:1]


def _with_misread_family(hit: tuple[int, int, str, str], text: str, where: list[int],
                         people: list) -> tuple[int, int, str, str]:
    """A given name followed by a word that is its person's family name cut short or misread ("Amelia
    Hat", "Priya Raghun": a line read small, turned, or partly hidden): the full name, both words."""
    start, end, pid, _ = hit
    person = next((p for p in people if p.person_id == pid), None)
    family = fold(person.family).strip() if person is not None and person.family else ""
    rest = text[next((i for i, w in enumerate(where) if w >= end), len(text)):]
    word = _WORD.match(rest.lstrip(" .,"))
    if not family or word is None:
        return hit
    read = fold(word.group(0))
    short = len(read) >= 3 and family.startswith(read)
    if not (short or (len(read) >= 3 and _edits(read, family) <= (1 if len(family) <= 5 else 2))):
        return hit
    offset = len(text) - len(rest) + (len(rest) - len(rest.lstrip(" .,"))) + word.end()
    return start, where[offset - 1] + 1, pid, "full"


def _family_and_initial_run_together(words: list, where: list[int], people: list,
                                     families: set[str]) -> list[tuple[int, int, str, str]]:
    """A line that is one word, a family name with its person's given initial run onto it ("HartA": "Hart
    A" on a register list, read without the space): that person's full name."""
    if len(words) != 1:
        return []
    m = words[0]
    word = m.group(0)
    if len(word) < 3 or not (word[-1].isupper() and word[-2].islower()) or fold(word[:-1]) not in families:
        return []
    return [(where[m.start()], where[m.end() - 1] + 1, p.person_id, "full") for p in people
            if p.family and p.given and fold(p.family).strip() == fold(word[:-1])
            and fold(p.given)[:1] == fold(word[-1])][:1]


def _edits(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _lone_family_name(text: str, where: list[int], people: list) -> list[tuple[int, int, str, str]]:
    """A line that is a family name and nothing else but initials, class codes or a label: "HART" on a
    shirt, "Hart 7", "HART A" and "1. Hart A" on a class list or a peg, "Hart 4B" on a badge, "Captain:
    Hart" or "Star of the Week: Hart" on a certificate. The name engine asks for context before it takes
    an everyday word (Hart, Hill, Walker) for a name, but a name printed so in a picture is there to
    name someone. Followed by its person's given-name initial ("HART A") it is that person's full name."""
    words = list(_WORD.finditer(text))
    folded = [fold(m.group(0)) for m in words]
    families = {fold(p.family).strip() for p in people if p.family}
    named = [i for i, f in enumerate(folded) if f in families]
    if not named:
        return _family_and_initial_run_together(words, where, people, families)
    if len(named) != 1:
        return []
    i = named[0]
    m = words[i]
    label = text[:m.start()].rstrip().endswith(":")  # "Captain: Hart"
    if not all(len(words[j].group(0)) == 1 or (label and j < i) for j in range(len(words)) if j != i):
        return []
    after = words[i + 1] if i + 1 < len(words) and len(words[i + 1].group(0)) == 1 \
        and not text[m.end():words[i + 1].start()].strip(" .,") else None
    out = []
    for p in people:
        if not p.family or fold(p.family).strip() != folded[i]:
            continue
        if after is not None and p.given and fold(p.given)[:1] == fold(after.group(0)):
            out.append((where[m.start()], where[after.end() - 1] + 1, p.person_id, "full"))
        else:
            out.append((where[m.start()], where[m.end() - 1] + 1, p.person_id, "family"))
    return out
