"""Common English words (lower case), to tell a name that is also a word ("May", "Rose") from one that is not."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """The shipped list (scripts/make_common_words.py says how it is made)."""
    text = (resources.files("processors.names") / "data" / "common_words.txt").read_text(encoding="utf-8")
    return frozenset(w for w in text.split() if w)


MONTHS_AND_DAYS = frozenset("january february march april may june july august september october november "
                            "december monday tuesday wednesday thursday friday saturday sunday".split())


def is_ordinary(word_letters: str) -> bool:
    """True when the (normalised, letters-only) word is an everyday English word (months and days too)."""
    return word_letters in common_words() or word_letters in MONTHS_AND_DAYS
