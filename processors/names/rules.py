"""Find register names in text: one pass over the letters, then decide by role, safety first.

The text is normalised (normalise.py) and its letters run through the register's automaton
(register.py). What separated the letters decides what a match is:

- word boundaries: start/end of a run of letters, or a change of case inside one
  ("AmeliaHart", "AHart"); a lower-case run ("ameliahart") has none inside it;
- a **full name** is a given and a family name of the same person next to each other in
  either order (any separators: spaces, "_", ".", "-", ", ", emoji, or none at all), up to
  two words apart in that order (middle names), an initial and the family name ("A. Hart",
  "a.hart@", "AHart", "Hart A."), or the given name and the family initial ("Amelia H.");
- a **family** or **given** name alone counts when it is a whole word (or a camel-case part);
- a name that is also an everyday English word ("May", "Will", "Rose", "Hill") counts only
  when the context makes it a name: a title before it ("Mrs Hill"), an initial with it ("A.
  Hill", "May B."), being next to, or in a list with, another name ("Nguyen and May", "May,
  Rose and Łukasz"), or, capitalised, being used as a name inside a sentence ("Well done
  Rose!", "Rose's painting"; see ``_used_as_name``). The given and family name of one
  person make a full name even when both are everyday words, in any case and order ("Will Hill",
  "will hill", "hill, will", "#willhill"), except in small letters after an article ("the hill
  will be steep").
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from processors.names.normalise import Normalised, normalise
from processors.names.register import PARTICLES, Register, as_tuple, compile_register
from processors.names.words import MONTHS_AND_DAYS, is_ordinary

NONE, CAMEL, WORD = 0, 1, 2
MAX_GAP = 12            # separator characters between two parts of one full name
TITLES = r"mr|mrs|miss|ms|mx|dr|master|prof|sir|dame|madam|mme|mlle|mstr"
_TITLE_WORDS = frozenset(TITLES.split("|"))


def _title_before(n: str, ns: int) -> int:
    """Length of a title ("Mrs ", "Dr. ") that ends just before normalised position ``ns`` (0 if none)."""
    j = ns
    while j > 0 and n[j - 1] == " ":
        j -= 1
    if j == ns or j == 0:
        return 0
    if n[j - 1] == ".":
        j -= 1
    k = j
    while k > 0 and n[k - 1].isalpha():
        k -= 1
    if j - k < 2 or j - k > 6 or (k > 0 and n[k - 1].isalnum()):
        return 0
    return ns - k if n[k:j] in _TITLE_WORDS else 0


_THE_BEFORE = re.compile(r"(?:^|[^a-z0-9])(the\s+)$")
_ADJACENT = re.compile(r"^(?:[ \-&+/,]|and|or|with|plus|\s)*$")
_INITIAL_GAP = re.compile(r"^[ .\-_]{0,3}$")
PREFIXES = PARTICLES | {"mc", "mac", "fitz", "d", "l"}
_LIST_BETWEEN = re.compile(r"[,&+;:.!?()\n]|\b(?:and|or|with|to|from|by|for|at|in|on)\b")


@dataclass(frozen=True)
class NameHit:
    """One name found in the original text (``start``/``end`` index the original string)."""
    person_id: str
    start: int
    end: int
    text: str
    kind: str                 # "full" | "given" | "family"
    part: str = ""            # for a full name written apart (middle names between): "given" | "family"
    given_text: str = ""      # the given name as written inside a full name ("" when only an initial)
    possessive: str = ""      # "'s" / "'" taken with the name
    form: str = ""            # normalised letters of the name part (given/family hits)
    people: tuple[str, ...] = ()   # everyone this form could name


@dataclass(slots=True)
class _Occ:
    ks: int          # letter-stream start
    ke: int          # letter-stream end (exclusive)
    form: object     # register.Form
    lb: int
    rb: int
    ok: bool = False     # a word of its own (see _word_ok)
    end: int = 0         # end including a plural "s"
    plural: bool = False
    word: int = 0        # index of the word it starts in (whole-word occurrences only)


@dataclass(slots=True)
class _Cand:
    ns: int                  # normalised start
    ne: int                  # normalised end
    kind: str
    person: int
    priority: int
    part: str = ""
    given: tuple[int, int] | None = None
    form: str = ""
    owner_ids: tuple[str, ...] = ()
    confirmed: bool = True
    plural: bool = False


class _Stream:
    """The letters of the normalised text, with where each one sits and the boundaries between them."""

    def __init__(self, nz: Normalised):
        self.nz = nz
        n = nz.text
        self.pos = pos = [i for i, c in enumerate(n) if c.isalpha()]
        self.letters = "".join(n[i] for i in pos)
        self.word_starts = [k for k in range(1, len(pos)) if pos[k] - pos[k - 1] > 1]
        up = nz.upper
        self.all_caps = len(pos) > 0 and all(up[i] for i in pos)

    def split_ok(self, ks: int, ke: int, splits) -> bool:
        """Letters ``ks:ke`` cross no word boundary, or cross them as the registered name does
        ("van der Berg", "O Neill"), or are spaced out one letter a word ("A m e l i a") - not
        "No, ah" for Noah."""
        i = bisect.bisect_right(self.word_starts, ks)
        j = bisect.bisect_left(self.word_starts, ke)
        if i >= j:
            return True
        edges = [ks, *self.word_starts[i:j], ke]
        lengths = tuple(b - a for a, b in zip(edges, edges[1:]))
        if all(n == 1 for n in lengths) or lengths in splits:
            return True
        # a prefix written apart: "Mc Allister", "Mac Donald", "De Souza", "O Brien"
        return all(self.letters[a:b] in PREFIXES for a, b in zip(edges, edges[1:-1]))

    def bound(self, k: int) -> int:
        """The boundary before letter ``k``."""
        pos, up = self.pos, self.nz.upper
        if k <= 0 or k >= len(pos):
            return WORD
        a, b = pos[k - 1], pos[k]
        if b - a > 1:
            return WORD
        if up[b] and not up[a]:
            return CAMEL
        if up[a] and up[b] and k + 1 < len(pos) and pos[k + 1] == b + 1 and not up[pos[k + 1]]:
            return CAMEL
        return NONE

    def gap(self, k: int) -> str:
        """Normalised text between letter ``k-1`` and letter ``k``."""
        return self.nz.text[self.pos[k - 1] + 1:self.pos[k]]

    def cap(self, k: int) -> bool:
        return self.nz.upper[self.pos[k]]


def find(text: str, people, *, everyday: bool = False) -> list[NameHit]:
    """Every name of ``people`` in ``text`` (see the module docstring); hits do not overlap.

    ``everyday=True`` counts a name that is also an everyday word as a name wherever it stands as
    a word, in any case and context (for erasing a forgotten person: better too much than too little).
    """
    if not text or not people:
        return []
    reg = compile_register(as_tuple(people))
    if reg.automaton is None:
        return []
    nz = normalise(text)
    st = _Stream(nz)
    if not st.letters:
        return []
    occs = _occurrences(st, reg)
    cands = _full_names(st, reg, occs) + _parts(st, reg, occs, everyday)
    _confirm_by_context(st, cands)
    chosen = _resolve([c for c in cands if c.confirmed])
    return [_hit(nz, reg, c) for c in chosen]


def _occurrences(st: _Stream, reg: Register) -> list[_Occ]:
    out = []
    for end, form in reg.automaton.iter(st.letters):
        ks = end + 1 - len(form.letters)
        ke = end + 1
        o = _Occ(ks, ke, form, st.bound(ks), st.bound(ke))
        o.ok, o.end, o.plural = _word_ok(st, o)
        if o.ok:
            o.word = bisect.bisect_right(st.word_starts, ks)
        out.append(o)
    return out


def _plural_end(st: _Stream, o: _Occ) -> int | None:
    """End after a plural "s" ("the O'Neills"), when that "s" ends the word."""
    if o.rb == NONE and o.ke < len(st.letters) and st.letters[o.ke] == "s" and st.bound(o.ke + 1) != NONE:
        return o.ke + 1
    return None


def _word_ok(st: _Stream, o: _Occ) -> tuple[bool, int, bool]:
    """Is the occurrence a word of its own? ``(ok, end, plural)``."""
    if o.lb == NONE or not st.split_ok(o.ks, o.ke, o.form.splits):
        return False, o.ke, False
    if o.rb != NONE:
        return True, o.ke, False
    plural = _plural_end(st, o)
    if plural is not None:
        return True, plural, True
    return False, o.ke, False


def _full_names(st: _Stream, reg: Register, occs: list[_Occ]) -> list[_Cand]:
    out: list[_Cand] = []
    by_start: dict[int, list[_Occ]] = {}
    for o in occs:
        by_start.setdefault(o.ks, []).append(o)
    n_letters = len(st.letters)
    letters = st.letters
    recent_given: list[_Occ] = []        # whole-word given names of the last few words (middle names)
    for o in occs:
        form = o.form
        # 1. two parts of one person, side by side (either order, any separator or none)
        for o2 in by_start.get(o.ke, ()):
            for first, shared in (("given", form.given_set & o2.form.family_set),
                                  ("family", form.family_set & o2.form.given_set)):
                if shared:
                    cand = _pair(st, o, o2, first, min(shared), n_letters)
                    if cand:
                        out.append(cand)
        ok, end, plural = o.ok, o.end, o.plural
        # 2. initials (only where the letter before or after could be one)
        before = letters[o.ks - 1] if o.ks else ""
        after = letters[o.ke] if o.ke < n_letters else ""
        if form.family and (before in form.family_by_given_initial or after in form.family_by_given_initial):
            out += _initial_family(st, reg, o)
        if ok and form.given and after in form.given_by_family_initial:
            c = _given_initial(st, reg, o)
            if c:
                out.append(c)
        # 3. given ... family, one or two words between (middle names, emoji, "&")
        if ok and form.family and recent_given:
            for g in recent_given:
                if g.ke > o.ks:
                    continue
                between = o.word - g.word
                shared = g.form.given_set & form.family_set
                if shared and 2 <= between <= 3 and _apart_ok(st, g, o):
                    i = min(shared)
                    gs, ge = st.pos[g.ks], st.pos[g.ke - 1] + 1
                    if _LIST_BETWEEN.search(st.nz.text[ge:st.pos[o.ks]]):
                        # "Amelia and Tom Hart": the two parts, not the words between
                        out.append(_Cand(gs, ge, "full", i, 0, part="given", given=(gs, ge)))
                        out.append(_Cand(st.pos[o.ks], st.pos[end - 1] + 1, "full", i, 0, part="family",
                                         plural=plural))
                    else:   # middle names or emoji between: "Amelia Rose Hart", "Amelia 🎉 Hart"
                        out.append(_Cand(gs, st.pos[end - 1] + 1, "full", i, 0, given=(gs, ge), plural=plural))
        if ok and form.given:
            recent_given.append(o)
            if len(recent_given) > 1 and o.word - recent_given[0].word > 3:
                recent_given = [g for g in recent_given if o.word - g.word <= 3]
    return out


def _apart_ok(st: _Stream, g: _Occ, f: _Occ) -> bool:
    """Given and family of one person with a word or two between: a full name unless both are everyday words."""
    if not (g.form.ordinary and f.form.ordinary):
        return True
    # both everyday words: one word between ("may rose brown"), or every word capitalised
    if f.word - g.word == 2:
        return True
    return all(st.cap(k) for k in range(g.ks, f.ks + 1) if k == 0 or st.pos[k] - st.pos[k - 1] > 1)


def _pair(st: _Stream, o1: _Occ, o2: _Occ, first: str, person: int, n_letters: int) -> _Cand | None:
    gap = st.gap(o2.ks)
    end = o2.ke
    plural = False
    rb = o2.rb
    if rb == NONE:
        p = _plural_end(st, o2)
        if p is not None:
            end, rb, plural = p, WORD, True
    if len(gap) > MAX_GAP:
        return None
    total = end - o1.ks
    if not gap:   # run together: "ameliahart", "AmeliaHart"
        if o1.lb == NONE and rb == NONE and total < 8:
            return None
        if o1.lb == WORD and rb == WORD and is_ordinary(st.letters[o1.ks:end]):
            return None       # "rosemary" is a word, not Rose Mary
    else:
        if o1.lb == NONE or rb == NONE:
            return None
        written_as_name = "," in gap or all(c in ".-_+" for c in gap)      # "hill, will", "will_hill"
        if o1.form.ordinary and o2.form.ordinary and not written_as_name \
                and not (st.cap(o1.ks) and st.cap(o2.ks)):
            # two everyday words in small letters: a name ("will hill", "hill will"), but not after an
            # article or the like ("the hill will be steep", "a brown may")
            ws, we = _word_before(st.nz, st.pos[o1.ks])
            if ws >= 0 and st.nz.text[ws:we] in _ARTICLES:
                return None
    ns, ne = st.pos[o1.ks], st.pos[end - 1] + 1
    g = o1 if first == "given" else o2
    return _Cand(ns, ne, "full", person, 0, given=(st.pos[g.ks], st.pos[g.ke - 1] + 1), plural=plural)


def _is_single_letter(st: _Stream, k: int) -> bool:
    return 0 <= k < len(st.letters) and st.bound(k) == WORD and st.bound(k + 1) == WORD and \
        (k == 0 or st.nz.text[st.pos[k] - 1] != "'")


def _initial_family(st: _Stream, reg: Register, o: _Occ) -> list[_Cand]:
    """"A. Hart", "A Hart", "a.hart", "AHart", "ahart", "Hart A." (initial of the same person's given name)."""
    out = []
    by_initial = o.form.family_by_given_initial
    ok, end, plural = o.ok, o.end, o.plural
    right_ok = o.rb != NONE or plural
    ordinary = o.form.ordinary
    n = st.nz.text
    k = o.ks - 1
    if k >= 0 and right_ok:
        initial = st.letters[k]
        who = by_initial.get(initial)
        if who:
            # initial, separator, family
            if o.lb == WORD and _is_single_letter(st, k):
                gap = st.gap(o.ks)
                if _INITIAL_GAP.match(gap):
                    dotted = "." in gap
                    if not ordinary or dotted or (st.cap(o.ks) and st.cap(k) and _ends_phrase(st, end)) or \
                            (initial not in "ai" and not st.cap(o.ks) and not st.cap(k)):
                        out.append(_Cand(st.pos[k], st.pos[end - 1] + 1, "full", who[0], 0, plural=plural))
            # initial run together with the family name: "AHart", "ahart"
            elif o.lb in (NONE, CAMEL) and st.bound(k) == WORD:
                email = n[st.pos[end - 1] + 1:st.pos[end - 1] + 2] == "@"     # "chart@school.org"
                if email or not (o.lb == NONE and (is_ordinary(st.letters[k:end]) or is_ordinary(st.letters[k:o.ke]))):
                    out.append(_Cand(st.pos[k], st.pos[end - 1] + 1, "full", who[0], 0, plural=plural))
    # family, separator, initial: "Hart A.", "hart.a@", "Hart, A."
    k = o.ke
    if ok and not plural and k < len(st.letters):
        initial = st.letters[k]
        who = by_initial.get(initial)
        if who and _is_single_letter(st, k):
            gap = st.gap(k)
            after = n[st.pos[k] + 1:st.pos[k] + 2]
            if len(gap) <= 3 and (any(c in gap for c in ".,_") or after == "."):
                if not ordinary or st.cap(o.ks) or gap in (".", "_"):
                    ne = st.pos[k] + 1 + (1 if after == "." else 0)
                    out.append(_Cand(st.pos[o.ks], ne, "full", who[0], 0))
    return out


def _ends_phrase(st: _Stream, end: int) -> bool:
    """No capitalised word follows letter ``end`` directly ("A Hart won", not "A Turner Prize")."""
    return end >= len(st.letters) or st.bound(end) != WORD or st.gap(end).strip() != "" or not st.cap(end)


def _given_initial(st: _Stream, reg: Register, o: _Occ) -> _Cand | None:
    """"Amelia H.", "May B" (the family initial of the same person)."""
    k = o.ke
    if k >= len(st.letters):
        return None
    initial = st.letters[k]
    who = o.form.given_by_family_initial.get(initial)
    if not who or not _is_single_letter(st, k):
        return None
    gap = st.gap(k)
    if not gap or not _INITIAL_GAP.match(gap):
        return None
    n = st.nz.text
    dotted = n[st.pos[k] + 1:st.pos[k] + 2] == "."
    if initial in "ai" and not dotted:
        return None
    if o.form.ordinary and not (st.cap(o.ks) and st.cap(k)):
        return None
    ns, ne = st.pos[o.ks], st.pos[k] + 1 + (1 if dotted else 0)
    return _Cand(ns, ne, "full", who[0], 0, given=(st.pos[o.ks], st.pos[o.ke - 1] + 1))


def _parts(st: _Stream, reg: Register, occs: list[_Occ], everyday: bool = False) -> list[_Cand]:
    """Lone given and family names (whole words); everyday words wait for context."""
    out = []
    for o in occs:
        ok, end, plural = o.ok, o.end, o.plural
        if not ok:
            continue
        for part in ("family", "given"):
            owners = o.form.family if part == "family" else o.form.given
            if not owners:
                continue
            if part == "given" and plural:
                continue
            ns, ne = st.pos[o.ks], st.pos[end - 1] + 1
            ordinary = o.form.ordinary and not everyday
            titled = ordinary and bool(_title_before(st.nz.text, ns))
            if ordinary and not st.cap(o.ks) and not titled:
                continue                        # "hill forts", "we hope"
            confirmed = not ordinary or titled or _used_as_name(st.nz, ns, ne, o.form.letters, st.all_caps)
            ids = o.form.family_ids if part == "family" else o.form.given_ids
            out.append(_Cand(ns, ne, part, owners[0], 1, form=o.form.letters, owner_ids=ids,
                             confirmed=confirmed, plural=plural))
            break   # a form that is both a given and a family name counts once, as a family name
    return out


_SENTENCE_START = set('.!?:;"\n(“”[')
_DATE_WORDS = frozenset("in of since until till by during early late mid last next this every from end on before "
                        "after throughout each".split())


# small-letter nouns that make the capitalised word before them the name of a thing, not a person
_NAMED_THINGS = frozenset("class classes team house group garden gardens road street lane park hill hall room school "
                          "prize award cup trophy centre center wood walk building bakery shop farm field close way "
                          "day fair festival club choir ward unit block wing".split())
# words that address or present a person: "Thanks Will for...", "Congratulations Rose on..."
_ADDRESSING = frozenset("thanks thank congratulations congrats welcome hello hi bravo goodbye farewell cheers meet "
                        "introducing go come love".split())
_ARTICLES = frozenset("the a an our this that these those his her their my your its".split())


def _word_before(nz: Normalised, ns: int) -> tuple[int, int]:
    """Span (normalised) of the word before position ``ns`` across spaces, or ``(-1, -1)`` when there is
    none in this sentence (start of text, or punctuation in between)."""
    n = nz.text
    i = ns - 1
    while i >= 0 and n[i] == " ":
        i -= 1
    if i < 0 or not n[i].isalnum():
        return -1, -1
    k = i
    while k >= 0 and n[k].isalnum():
        k -= 1
    return k + 1, i + 1


def _opens_sentence(nz: Normalised, ns: int) -> bool:
    n = nz.text
    i = ns - 1
    while i >= 0 and n[i] == " ":
        i -= 1
    return i < 0 or n[i] in _SENTENCE_START


def _used_as_name(nz: Normalised, ns: int, ne: int, form: str, all_caps: bool = False) -> bool:
    """A capitalised everyday word used as a name: inside a sentence (not opening it), not after an
    article or a number ("the King's", "12 May"), and followed by a small-letter word or the end of
    the clause ("Well done Rose!"), or possessive ("Rose's painting") - not by another capitalised word ("Rose
    Garden", "Turner Prize"), "&" ("Smith & Sons") or a number ("May 2026"). After a capitalised
    word it must end the clause ("Congratulations Rose!"), unless that word is inside the sentence
    too ("Hope Street", "Christmas Eve carols"). A month after "in", "by", "of"... is a date."""
    n = nz.text
    ws, we = _word_before(nz, ns)
    prev = n[ws:we] if ws >= 0 else ""
    if n[ne:ne + 1] == "'" and prev not in _ARTICLES:
        # possessive: "Rose's painting", "with Turner's help" - not "King's College"
        j = ne + (2 if n[ne + 1:ne + 2] == "s" else 1)
        while j < len(n) and n[j] == " ":
            j += 1
        return all_caps or not (j < len(n) and n[j].isalpha() and nz.upper[j])
    if _opens_sentence(nz, ns):
        return False
    if prev[:1].isdigit() or prev in _ARTICLES or (form in MONTHS_AND_DAYS and prev in _DATE_WORDS):
        return False
    if form in MONTHS_AND_DAYS and prev in ("to", "and", "or"):
        ws2, we2 = _word_before(nz, ws)
        if ws2 >= 0 and n[ws2:we2] in MONTHS_AND_DAYS:
            return False                  # "from April to May", "Monday and Friday"
    # (in a text written all in capitals, capitals say nothing)
    prev_capital = ws >= 0 and nz.upper[ws] and prev not in _ADDRESSING and not all_caps
    if prev_capital and not _opens_sentence(nz, ws):
        return False                      # a name of a place or thing: "Hope Street", "Brown Owl"
    j = ne
    while j < len(n) and n[j] == " ":
        j += 1
    if j >= len(n):
        return True
    nxt = n[j]
    if nxt in ".,!?;:)\n":
        return True
    if prev_capital:
        return False                      # "Christmas Eve carols", "Sports Day Rose ..."
    if nxt.isalpha():
        if nz.upper[j] and not all_caps:
            return False
        k = j
        while k < len(n) and n[k].isalpha():
            k += 1
        return n[j:k] not in _NAMED_THINGS   # "Hill class", "Rose garden", "Turner prize"
    return False


def _confirm_by_context(st: _Stream, cands: list[_Cand]) -> None:
    """An everyday-word name next to, or listed with, a confirmed name is a name too."""
    pending = [c for c in cands if not c.confirmed]
    if not pending:
        return
    items = sorted(cands, key=lambda c: (c.ns, -c.ne))
    n = st.nz.text
    changed = True
    while changed:
        changed = False
        for order in (range(len(items)), range(len(items) - 1, -1, -1)):   # forwards, then backwards
            for idx in order:
                c = items[idx]
                if c.confirmed:
                    continue
                for step in (-1, 1):
                    j = idx + step
                    while 0 <= j < len(items) and _overlap(items[j], c):   # nearest name not overlapping c
                        j += step
                    if not (0 <= j < len(items)) or not items[j].confirmed:
                        continue
                    other = items[j]
                    gap = n[other.ne:c.ns] if step < 0 else n[c.ne:other.ns]
                    if len(gap) <= 10 and _ADJACENT.match(gap):
                        c.confirmed = True
                        changed = True
                        break


def _overlap(a: _Cand, b: _Cand) -> bool:
    return a.ns < b.ne and b.ns < a.ne


def _resolve(cands: list[_Cand]) -> list[_Cand]:
    """Non-overlapping choice: full names first, then longer, then earlier."""
    cands.sort(key=lambda c: (c.priority, -(c.ne - c.ns), c.ns))
    size = max((c.ne for c in cands), default=0)
    taken = bytearray(size)
    chosen = []
    for c in cands:
        if 1 in taken[c.ns:c.ne]:
            continue
        taken[c.ns:c.ne] = b"\x01" * (c.ne - c.ns)
        chosen.append(c)
    chosen.sort(key=lambda c: c.ns)
    return chosen


def _hit(nz: Normalised, reg: Register, c: _Cand) -> NameHit:
    n = nz.text
    ns, ne = c.ns, c.ne
    title = _title_before(n, ns)
    if title:
        ns -= title
    elif c.plural and c.kind == "family":
        the = _THE_BEFORE.search(n[max(0, ns - 6):ns])
        if the:
            ns -= len(the.group(1))
    possessive = ""
    if n[ne:ne + 2] == "'s" and not n[ne + 2:ne + 3].isalnum():
        possessive, ne = "'s", ne + 2
    elif n[ne:ne + 1] == "'" and n[ne - 1:ne] == "s" and not n[ne + 1:ne + 2].isalnum():
        possessive, ne = "'", ne + 1
    start, end = nz.span(ns, ne)
    text = nz.original
    given_text = ""
    if c.given:
        gs, ge = nz.span(*c.given)
        given_text = text[gs:ge]
    person = reg.people[c.person]
    owners = c.owner_ids or (person.person_id,)
    return NameHit(person.person_id, start, end, text[start:end], c.kind, part=c.part, given_text=given_text,
                   possessive=text[nz.span(ne - len(possessive), ne)[0]:end] if possessive else "",
                   form=c.form, people=owners)
