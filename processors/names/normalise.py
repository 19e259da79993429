"""Normalise text for name matching, keeping a map back to the original characters.

Each original character becomes zero or more normalised characters:
- format characters (Unicode category Cf: zero-width joiner/space, soft hyphen, BOM,
  bidirectional marks) and combining marks (accents written decomposed, as macOS does;
  variation selectors) become nothing and count as part of the character before them;
- compatibility forms are unfolded (NFKC/NFKD: full-width letters, ligatures,
  mathematical alphabets);
- accents are folded (é -> e, also letters with a stroke that Unicode does not decompose: ł -> l);
- text is case-folded (ß -> ss);
- letters that look like Latin letters in another script (Cyrillic а, Greek ο) are mapped
  to the Latin letter with Unicode's own confusables data (TR39), through
  ``confusable_homoglyphs``;
- every space becomes " ", every dash (including the non-breaking hyphen) "-", every
  apostrophe "'" (a line break stays a line break).

:class:`Normalised` keeps, for each normalised character, the span of original text it
came from, so a match on the normalised text maps back to an exact span of the original.
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

# Letters that Unicode does not decompose into a base letter plus an accent.
_LETTERS = {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ß": "ss", "æ": "ae", "Æ": "Ae",
            "œ": "oe", "Œ": "Oe", "ı": "i", "þ": "th", "Þ": "Th", "ð": "d", "Ð": "D", "ħ": "h", "Ħ": "H",
            "ŧ": "t", "Ŧ": "T", "ŀ": "l", "Ŀ": "L", "ƒ": "f", "ɨ": "i", "ʉ": "u", "ƶ": "z", "Ƶ": "Z"}
_APOSTROPHES = set("'’‘ʼʹ′`´＇ʻʽ")
# Invisible "letters" (Unicode's default-ignorable Hangul fillers) are dropped like format characters;
# the Braille blank reads as a space.
_IGNORABLE = set("\u115f\u1160\u3164\uffa0")
_BLANKS = set("\u2800")


@lru_cache(maxsize=1)
def _confusables() -> dict[str, str]:
    """Non-ASCII character -> the ASCII letter(s) it is confusable with (Unicode TR39 confusables.txt)."""
    import confusable_homoglyphs

    path = resources.files(confusable_homoglyphs) / "confusables.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    out = {}
    for ch, entries in data.items():
        if len(ch) != 1 or ch.isascii():
            continue
        targets = [e["c"] for e in entries if e["c"].isascii() and e["c"].isalpha()]
        if targets:
            out[ch] = sorted(targets, key=len)[0].casefold()
    return out


_LATIN_NAME = re.compile(r"^LATIN (?:(?:SMALL|CAPITAL) LETTER|LETTER SMALL CAPITAL|SMALL CAPITAL LETTER) ([A-Z])\b")


def _latin_by_name(c: str) -> str:
    """A Latin letter that neither NFKD nor the confusables fold, by its Unicode name ("LATIN LETTER
    SMALL CAPITAL A" -> "a", "LATIN SMALL LETTER DOTLESS J" -> "j")."""
    if c in _confusables():
        return c
    m = _LATIN_NAME.match(unicodedata.name(c, ""))
    return m.group(1).lower() if m else c


@lru_cache(maxsize=65536)
def fold_char(ch: str) -> tuple[str, bool]:
    """``(normalised text, written in upper case)`` for one original character."""
    if ch.isascii():
        if ch.isalpha():
            return ch.lower(), ch.isupper()
        if ch in "\n\r":
            return "\n", False          # kept: a line break ends a sentence for the rules
        if ch in " \t\f\v":
            return " ", False
        return ("'" if ch in "'`" else ch), False
    cat = unicodedata.category(ch)
    if cat == "Cf" or cat in ("Mn", "Me") or cat == "Cc" or ch in _IGNORABLE:
        return "", False
    if cat.startswith("Z") or ch in _BLANKS:
        return " ", False
    if cat == "Pd" or ch in "\u2212\u2010\u2011\ufe63\uff0d":
        return "-", False
    if ch in _APOSTROPHES:
        return "'", False
    upper = ch.isupper() or ch.istitle()
    base = _LETTERS.get(ch, ch)
    out = []
    confusables = _confusables()
    for c in unicodedata.normalize("NFKD", base):
        if unicodedata.combining(c) or unicodedata.category(c) == "Cf":
            continue
        c = _LETTERS.get(c, c)
        if not c.isascii() and c.isalpha():
            c = _latin_by_name(c)
        if not c.isascii():
            # look-alikes are matched in their own case first (TR39 is case-sensitive: Greek capital
            # nu is N, small nu is v); Unicode's data maps upper-case I-like letters to "l", read "i"
            mapped = confusables.get(c)
            if mapped is not None:
                c = "i" if mapped == "l" and c.isupper() else mapped
        for f in c.casefold():
            if not f.isascii():
                f = confusables.get(f, f)
            out.append(f)
    text = "".join(out)
    if text in ("\u2019", "\u2018"):
        text = "'"
    return text, upper


@dataclass
class Normalised:
    """Normalised text with, for each of its characters, the original span and case."""
    original: str
    text: str
    starts: list[int]     # original index where normalised char i's source character starts
    ends: list[int]       # original index just after it (including dropped marks after it)
    upper: list[bool]     # its source character was upper (or title) case

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original ``(start, end)`` for normalised ``text[start:end]`` (``end > start``)."""
        return self.starts[start], self.ends[end - 1]


def normalise(text: str) -> Normalised:
    """Normalise ``text`` (see the module docstring) and keep the map back to it."""
    table = {ch: fold_char(ch) for ch in set(text)}
    if all(len(f) == 1 for f, _ in table.values()):
        # every character becomes exactly one: translate in one go (the usual case)
        out = text.translate({ord(ch): f for ch, (f, _) in table.items()})
        upper_of = {ch: up for ch, (_, up) in table.items()}
        return Normalised(text, out, list(range(len(text))), list(range(1, len(text) + 1)),
                          [upper_of[ch] for ch in text])
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    upper: list[bool] = []
    for i, ch in enumerate(text):
        folded, up = table[ch]
        if len(folded) == 1:
            out.append(folded)
            starts.append(i)
            ends.append(i + 1)
            upper.append(up)
        elif not folded:
            if ends:
                ends[-1] = i + 1   # an accent or invisible character belongs to the character before it
        else:
            for f in folded:
                out.append(f)
                starts.append(i)
                ends.append(i + 1)
                upper.append(up)
    return Normalised(text, "".join(out), starts, ends, upper)


def fold(text: str) -> str:
    """Just the normalised text (for comparing names)."""
    return normalise(text).text


def letters(text: str) -> str:
    """The normalised letters of ``text`` only: "O'Neill" -> "oneill", "van der Berg" -> "vanderberg"."""
    return "".join(c for c in fold(text) if c.isalpha())
