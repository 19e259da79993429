"""A budget for the work spent on one input: bytes, items and seconds, each capped.

Metadata parsing takes one per photo; whatever would go over it is left unparsed and
recorded (``over``) so the photo's record says what was not read, instead of a 189 MB file of
XMP packets costing minutes of CPU and gigabytes of memory.
"""
from __future__ import annotations

import time


class BudgetExceeded(Exception):
    """Raised by :meth:`Budget.check` when the time is up."""


class Budget:
    """``Budget(max_bytes, max_items, seconds)``; ``take(n)`` spends, ``over`` lists what was refused."""

    def __init__(self, max_bytes: int, max_items: int, seconds: float):
        self.max_bytes = max_bytes
        self.max_items = max_items
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.bytes = 0
        self.items = 0
        self.over: list[str] = []

    def take(self, nbytes: int, what: str = "item") -> bool:
        """Spend one item of ``nbytes``; False (and noted in ``over``) when it does not fit."""
        if self.items + 1 > self.max_items:
            self._note(f"more than {self.max_items} {what}s: the rest were not read")
            return False
        if self.bytes + nbytes > self.max_bytes:
            self._note(f"more than {self.max_bytes // (1024 * 1024)} MB of {what}s: the rest were not read")
            return False
        if self.expired():
            self._note(f"reading {what}s took longer than {self.seconds:g} s: the rest were not read")
            return False
        self.items += 1
        self.bytes += nbytes
        return True

    def expired(self) -> bool:
        return time.monotonic() > self.deadline

    def check_quietly(self, what: str = "metadata") -> None:
        """Note that the time is up (as :meth:`check` does) without raising."""
        self._note(f"reading {what} took longer than {self.seconds:g} s: the rest was not read")

    def check(self, what: str = "metadata") -> None:
        if self.expired():
            self._note(f"reading {what} took longer than {self.seconds:g} s: the rest was not read")
            raise BudgetExceeded(what)

    def _note(self, text: str) -> None:
        if text not in self.over:
            self.over.append(text)
