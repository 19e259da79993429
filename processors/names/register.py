"""The register's names as forms for one-pass matching (an Aho-Corasick automaton, pyahocorasick).

Every form is the normalised letters of a name part: "O'Neill" -> "oneill", "van der Berg" ->
"vanderberg" (and its core "berg"), "Smith-Jones" -> "smithjones" (and each barrel), "Mary Jane"
-> "maryjane" (and "mary", "jane"). The automaton runs over the letters of the caption with
everything else taken out, so "#AmeliaHart", "amelia_hart", "Amelia\u00a0Hart" and "A-m-e-l-i-a"
variants all meet the same forms; the rules (rules.py) then look at what separated the letters.
Built once per register (cached).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import ahocorasick

from processors.names.normalise import fold, letters
from processors.names.words import is_ordinary


@dataclass(frozen=True)
class NamedPerson:
    person_id: str
    given: str
    family: str


# Lower-case particles that start a family name ("van der Berg", "de la Cruz", "ter Horst").
PARTICLES = {"van", "von", "der", "den", "de", "del", "della", "di", "da", "dos", "das", "du", "la", "le",
             "ter", "ten", "op", "het", "st", "ste", "al", "el", "bin", "bint", "ibn", "ap", "mac", "y",
             "o", "ni", "nic", "ui", "mc"}


class Form:
    """One name form and who it belongs to (person indexes, in register order)."""
    __slots__ = ("letters", "ordinary", "given", "family", "given_set", "family_set",
                 "family_by_given_initial", "given_by_family_initial", "given_ids", "family_ids", "splits")

    def __init__(self, letters_: str, ordinary: bool, given: tuple[int, ...], family: tuple[int, ...],
                 family_by_given_initial: dict, given_by_family_initial: dict):
        self.letters = letters_
        self.ordinary = ordinary                  # also an everyday English word ("may", "rose", "hill")
        self.given = given                        # people with this given name (or given-name word)
        self.family = family                      # people with this family name (or barrel, or core)
        self.given_set = frozenset(given)
        self.family_set = frozenset(family)
        self.family_by_given_initial = family_by_given_initial   # given initial -> people with this family form
        self.given_by_family_initial = given_by_family_initial   # family initial -> people with this given form
        self.given_ids: tuple[str, ...] = ()
        self.family_ids: tuple[str, ...] = ()
        self.splits: frozenset[tuple[int, ...]] = frozenset()   # word lengths as registered ("O'Neill": (1, 5))


@dataclass
class Register:
    people: tuple[NamedPerson, ...]
    automaton: object | None
    given_letters: list[str] = field(default_factory=list)    # per person: whole given name, letters only
    family_letters: list[str] = field(default_factory=list)
    given_initial: list[str] = field(default_factory=list)
    family_initial: list[str] = field(default_factory=list)


def split_lengths(name: str) -> tuple[int, ...]:
    """Letters per word of a name as written in the register: "van der Berg" -> (3, 3, 4)."""
    return tuple(len(w) for w in re.split(r"[^a-z\u00c0-\uffff]+", fold(name)) if w and any(c.isalpha() for c in w))


def _words(name: str) -> list[str]:
    return [w for w in (letters(p) for p in re.split(r"[\s\-\u2010\u2011]+", name)) if w]


def given_forms(given: str) -> set[str]:
    whole = letters(given)
    return {whole, *_words(given)} - {""}


def family_forms(family: str) -> set[str]:
    whole = letters(family)
    forms = {whole}
    words = _words(family)
    if len(words) > 1:
        forms.update(w for w in words if w not in PARTICLES)          # barrels: "Smith", "Jones"
        core = [w for w in words if w not in PARTICLES]
        if core:
            forms.add("".join(core))                                   # "van der Berg" -> "berg"
    return {f for f in forms if f}


@lru_cache(maxsize=32)
def compile_register(people: tuple[NamedPerson, ...]) -> Register:
    owners: dict[str, list[tuple[int, str]]] = {}
    splits: dict[str, set[tuple[int, ...]]] = {}
    reg = Register(people, None)
    for i, p in enumerate(people):
        g, f = letters(p.given or ""), letters(p.family or "")
        reg.given_letters.append(g)
        reg.family_letters.append(f)
        reg.given_initial.append(g[:1])
        reg.family_initial.append(f[:1])
        if g:
            for form in given_forms(p.given):
                owners.setdefault(form, []).append((i, "given"))
            splits.setdefault(g, set()).add(split_lengths(p.given))
        if f:
            for form in family_forms(p.family):
                owners.setdefault(form, []).append((i, "family"))
            splits.setdefault(f, set()).add(split_lengths(p.family))
    if owners:
        automaton = ahocorasick.Automaton()
        for form, who in owners.items():
            given = tuple(i for i, part in who if part == "given")
            family = tuple(i for i, part in who if part == "family")
            by_gi: dict[str, list[int]] = {}
            for i in family:
                if reg.given_initial[i]:
                    by_gi.setdefault(reg.given_initial[i], []).append(i)
            by_fi: dict[str, list[int]] = {}
            for i in given:
                if reg.family_initial[i]:
                    by_fi.setdefault(reg.family_initial[i], []).append(i)
            entry = Form(form, is_ordinary(form), given, family, {k: tuple(v) for k, v in by_gi.items()},
                         {k: tuple(v) for k, v in by_fi.items()})
            entry.given_ids = tuple(people[i].person_id for i in given)
            entry.family_ids = tuple(people[i].person_id for i in family)
            entry.splits = frozenset(splits.get(form, ()))
            automaton.add_word(form, entry)
        automaton.make_automaton()
        reg.automaton = automaton
    return reg


def as_tuple(people) -> tuple[NamedPerson, ...]:
    """The register as a hashable tuple (the cache key)."""
    return people if isinstance(people, tuple) else tuple(people)


__all__ = ["NamedPerson", "Form", "Register", "compile_register", "as_tuple", "fold", "given_forms",
           "family_forms", "PARTICLES"]
