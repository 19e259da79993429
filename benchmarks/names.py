"""Name engine timing: a 64 KiB caption against a 2,000-person register (issue 14: under 0.2 s).

Prints the engine's time for find_names and scrub (register compiled once, as in a batch),
the first call (building the automaton), and, as a peer measured in the same run, the
engine this package replaced (one set of regular expressions per person) on a smaller
caption and register, since it grows with about the cube of the names. Timing numbers are
noisy on a shared machine; compare the ratios within one run.

    python benchmarks/names.py [--people 2000] [--kib 64] [--old]
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from processors.names import NamedPerson, find_names, scrub   # noqa: E402
from processors.names.register import compile_register        # noqa: E402

GIVEN = ["Amelia", "Zoë", "Łukasz", "Siobhán", "Thanh", "Rose", "Will", "May", "Hope", "Oliver", "Priya",
         "Mohammed", "Aoife", "Chloé", "Jack", "Grace", "Kofi", "Freya", "Isla", "Noah", "Bartosz", "Ruby"]
FAMILY = ["Hart", "O'Neill", "van der Berg", "Smith-Jones", "Nguyen", "Turner", "Hill", "Brown", "Street",
          "Patel", "Khan", "Dubois", "Wood", "Green", "Mensah", "MacDonald", "McAllister", "Lee", "Wiśniewski"]
FILLER = "at the sports day with Year 4 in the Rose Garden near Hope Street, and it did not rain in May.".split()


SYLLABLES = ["ka", "ri", "mo", "len", "dor", "vi", "sa", "ton", "bel", "mar", "che", "lu", "ne", "os", "tam",
             "gri", "fen", "wy", "ho", "zu", "pa", "dre", "qui", "ash"]


def _made_up(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize()


def register(n: int, rng: random.Random) -> list[NamedPerson]:
    """``n`` people: the real names above often, made-up ones otherwise (about 3 people per family name)."""
    given = GIVEN + [_made_up(rng, 2) for _ in range(max(0, n // 6))]
    family = FAMILY + [_made_up(rng, 3) for _ in range(max(0, n // 3))]
    return [NamedPerson(f"P{i:05d}", rng.choice(given), rng.choice(family)) for i in range(n)]


def caption(people: list[NamedPerson], kib: int, rng: random.Random) -> str:
    words: list[str] = []
    size = 0
    while size < kib * 1024:
        if rng.random() < 0.35:
            p = rng.choice(people)
            w = rng.choice([f"{p.given} {p.family}", f"#{p.given}{p.family}", f"{p.family}, {p.given}",
                            f"{p.given[0]}. {p.family}", p.given])
        else:
            w = rng.choice(FILLER)
        words.append(w)
        size += len(w.encode("utf-8")) + 1
    return " ".join(words)[:kib * 1024]


def timed(fn, repeat: int = 3) -> float:
    """Best CPU time of ``repeat`` runs (CPU time: the machine is shared, wall time is noisy)."""
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=2000)
    ap.add_argument("--kib", type=int, default=64)
    ap.add_argument("--old", action="store_true", help="also time the replaced regex engine (git show c29befe~1)")
    args = ap.parse_args()
    rng = random.Random(14)
    people = register(args.people, rng)
    text = caption(people, args.kib, rng)
    t_build = timed(lambda: compile_register(tuple(people)), 1)
    hits = find_names(text, people)
    t_find = timed(lambda: find_names(text, people))
    t_scrub = timed(lambda: scrub(text, people, {people[0].person_id}))
    print(f"{len(text.encode('utf-8')) / 1024:.0f} KiB caption, {len(people)} people, {len(hits)} names found")
    print(f"first call (automaton build): {t_build * 1000:.0f} ms")
    print(f"find_names: {t_find * 1000:.0f} ms   scrub: {t_scrub * 1000:.0f} ms   (target < 200 ms)")
    if args.old:
        import subprocess
        import types
        src = subprocess.run(["git", "show", "c29befe~1:processors/names.py"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent.parent, check=True).stdout
        old = types.ModuleType("old_names")
        sys.modules["old_names"] = old
        exec(compile(src, "old_names.py", "exec"), old.__dict__)
        for n_people, kib in ((30, 1), (200, 4), (200, 16)):
            sub = people[:n_people]
            old_people = [old.NamedPerson(p.person_id, p.given, p.family) for p in sub]
            small = caption(sub, kib, rng)
            t_old = timed(lambda: old.scrub_caption(small, old_people, keep_given=set()), 1)
            t_new = timed(lambda: scrub(small, sub, set()))
            print(f"peer, {kib} KiB / {n_people} people: replaced regex engine {t_old * 1000:.0f} ms, "
                  f"this engine {t_new * 1000:.1f} ms ({t_old / max(t_new, 1e-6):.0f}x)")


if __name__ == "__main__":
    main()
