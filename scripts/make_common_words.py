"""Regenerate processors/names/data/common_words.txt: common English words written in lower case.

A register name that is also one of these words ("May", "Will", "Rose", "Hill", "Street") is
treated as an ordinary word unless the context makes it a name (see the README, "Names in
captions"). The list is every all-lower-case entry of Debian's British English word list
(package ``wbritish``, SCOWL; capitalised entries such as "Amelia" are proper nouns and are
left out) that is also reasonably common (wordfreq Zipf frequency >= 3.0).

Run once by a developer (``apt-get install wbritish``; ``pip install wordfreq``); the result
is committed, so neither is needed at run time.
"""
from pathlib import Path

from wordfreq import zipf_frequency

SOURCE = Path("/usr/share/dict/british-english")
TARGET = Path(__file__).resolve().parent.parent / "processors" / "names" / "data" / "common_words.txt"


def main() -> None:
    words = sorted({w for w in (line.strip() for line in SOURCE.open(encoding="utf-8"))
                    if w.isascii() and w.isalpha() and w.islower() and zipf_frequency(w, "en") >= 3.0})
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text("\n".join(words) + "\n", encoding="utf-8")
    print(f"{len(words)} words -> {TARGET}")


if __name__ == "__main__":
    main()
