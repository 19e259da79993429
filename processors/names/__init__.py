"""The one name engine: find and remove register names in captions, filenames, metadata and text in pictures.

Public API (used by captions, the audit, propagation, and the text-in-picture work):

- ``find_names(text, people) -> list[NameHit]``: every name of ``people`` (``NamedPerson``) in
  ``text``, each with ``.start``/``.end`` (a span of the ORIGINAL text), ``.person_id`` and
  ``.kind`` (``"full"``, ``"family"`` or ``"given"``); ``partial=False`` gives full names only.
- ``find_full_names(text, people)``: only the full names (the audit's question).
- ``scrub(text, people, keep_ids, mode="first_only") -> str``: the text with names removed as a
  channel requires (``keep_ids``: people kept on that channel).
- ``scrub_caption(text, people, *, keep_given, mode)``: the same, with the older keyword.

Modules: normalise (Unicode folding with a map back to the original), register (name forms and
the Aho-Corasick automaton), rules (what counts as a name), scrub (removal and tidying), words
(everyday English words). Sidecar decoding is processors/caption_text.py.
"""
from __future__ import annotations

from processors.names.normalise import fold, letters, normalise
from processors.names.register import NamedPerson
from processors.names.rules import NameHit, find
from processors.names.scrub import scrub


def find_names(text: str, people, *, partial: bool = True, everyday: bool = False) -> list[NameHit]:
    """Every name of ``people`` in ``text`` (full names, and with ``partial`` lone given/family names too).

    ``everyday=True``: names that are also everyday words ("Rose", "Hill") count wherever they stand
    as a word, whatever the context (for erasing a forgotten person's name from private records).
    """
    hits = find(text, people, everyday=everyday)
    return hits if partial else [h for h in hits if h.kind == "full"]


def find_full_names(text: str, people) -> list[NameHit]:
    """Full names only (given + family in any form, or an initial with the family name)."""
    return find_names(text, people, partial=False)


def scrub_caption(text: str, people, *, keep_given=frozenset(), mode: str = "first_only") -> str:
    """Older name for :func:`scrub` (``keep_given`` are the ids of people kept on the channel)."""
    return scrub(text, people, keep_given, mode)


__all__ = ["NamedPerson", "NameHit", "find_names", "find_full_names", "scrub", "scrub_caption", "fold",
           "letters", "normalise"]
