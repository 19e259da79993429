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
             "ter", "ten", "op", "het", "st", "ste", "al", "el", "bin", "bint", "ibn", "ap", "mac", "y"}


@dataclass(frozen=True)
class Form:
    """One name form and who it belongs to."""
    letters: str
    ordinary: bool                       # also an everyday English word ("may", "rose", "hill")
    owners: tuple[tuple[int, str], ...]  # (person index, "given" | "family")


@dataclass
class Register:
    people: tuple[NamedPerson, ...]
    automaton: object | None
    given_letters: list[str] = field(default_factory=list)    # per person: whole given name, letters only
    family_letters: list[str] = field(default_factory=list)
    given_initial: list[str] = field(default_factory=list)
    family_initial: list[str] = field(default_factory=list)


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
        if f:
            for form in family_forms(p.family):
                owners.setdefault(form, []).append((i, "family"))
    if owners:
        automaton = ahocorasick.Automaton()
        for form, who in owners.items():
            automaton.add_word(form, Form(form, is_ordinary(form), tuple(who)))
        automaton.make_automaton()
        reg.automaton = automaton
    return reg


def as_tuple(people) -> tuple[NamedPerson, ...]:
    """The register as a hashable tuple (the cache key)."""
    return people if isinstance(people, tuple) else tuple(people)


__all__ = ["NamedPerson", "Form", "Register", "compile_register", "as_tuple", "fold", "given_forms",
           "family_forms", "PARTICLES"]
