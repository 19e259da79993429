"""An independent reader for the name tests: does a full name (or a refused name) survive in a text?

Written apart from processors/names on purpose: its own normalisation (NFKD, no format characters
or marks, case-folded, look-alike letters through confusable_homoglyphs' own lookup API) and its
own, simpler idea of a name: the letters of given + family (either order) anywhere in the text
with everything but letters taken out; an initial followed by the family name; the given name
followed within three words by the family name; and, for a name part that is not an everyday
word, that word on its own.
"""
from __future__ import annotations

import csv
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from confusable_homoglyphs import confusables

DATA = Path(__file__).parent / "data" / "captions"
# name parts the corpus also uses as everyday words (checked only as parts of full names)
EVERYDAY = {"rose", "will", "may", "hope", "hill", "brown", "street", "turner", "grace", "green", "jack", "wood",
            "king", "ward", "black", "young", "lee", "eve", "marsh", "smith", "jones"}


@lru_cache(maxsize=None)
def _char(ch: str) -> str:
    out = []
    for c in unicodedata.normalize("NFKD", ch):
        if unicodedata.category(c) in ("Cf", "Mn", "Me"):
            continue
        if not c.isascii():
            found = confusables.is_confusable(c, preferred_aliases=["latin"], greedy=True) or []
            for f in found:
                latin = [h["c"] for h in f["homoglyphs"] if h["c"].isascii() and h["c"].isalpha()]
                if latin:
                    c = latin[0]
                    break
        out.append({"ł": "l", "ø": "o", "ß": "ss", "đ": "d"}.get(c.casefold(), c.casefold()))
    return "".join(out)


def read(text: str) -> str:
    return "".join(_char(c) for c in text)


def words(text: str) -> list[str]:
    """Words of ``text`` as a person reads them: split at non-letters and at camel case."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", "".join(c for c in text if unicodedata.category(c) != "Cf"))
    return [w for w in re.split(r"[^a-z]+", read(spaced)) if w]


def _letters(s: str) -> str:
    return "".join(c for c in read(s) if c.isalpha())


def full_name_in(text: str, given: str, family: str) -> bool:
    g, f = _letters(given), _letters(family)
    flat = "".join(c for c in read(text) if c.isalpha())
    if g + f in flat or f + g in flat:
        return True
    ws = words(text)
    fam_words = [_letters(w) for w in re.split(r"[\s\-]+", family) if w]
    last = fam_words[-1]
    for i, w in enumerate(ws):
        if w == g[0] and i + 1 < len(ws) and (ws[i + 1] == last or "".join(ws[i + 1:i + 1 + len(fam_words)]) == f):
            return True
        if w == g[0] + f:
            return True
        if w == g and last in ws[i + 1:i + 4 + len(fam_words)]:
            return True
    return False


def part_in(text: str, part: str) -> bool:
    """A (non-everyday) name part as a word of the text."""
    p = _letters(part)
    if p in EVERYDAY:
        return False
    ws = words(text)
    if p in ws or p + "s" in ws:
        return True
    return p in "".join(ws) and len(p) >= 5 and any(p in w for w in ws)


def load_register(path: Path = DATA / "register.csv"):
    with open(path, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
