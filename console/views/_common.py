"""Small helpers the views share: an image response that is never cached, flash-and-redirect, and numbers
read from URLs and forms (ids and page numbers) that can never reach SQLite out of its range."""
from __future__ import annotations

from flask import Response, flash, redirect
from werkzeug.routing import IntegerConverter, ValidationError

SQLITE_MAX_INT = 2 ** 63 - 1   # the largest INTEGER SQLite stores; a larger one raises OverflowError


def whole_number(text: str | None) -> int | None:
    """``text`` as a whole number from 1 to SQLITE_MAX_INT, or None for anything else.

    Only the digits 0-9 count ("²".isdigit() is True but int("²") fails; int("٣") is 3), and a long
    string is refused before int() sees it (int() refuses more than 4300 digits)."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdecimal()):
        return None
    digits = text.lstrip("0")
    if not digits or len(digits) > len(str(SQLITE_MAX_INT)):
        return None
    number = int(digits)
    return number if number <= SQLITE_MAX_INT else None


def page_number(text: str | None) -> int:
    """``?page=``: a whole number from 1. A larger number than any page is SQLITE_MAX_INT (the caller
    shows the last page); anything else (empty, "²", "-3", "0") is page 1."""
    text = (text or "").strip()
    if text.isascii() and text.isdecimal() and text.strip("0"):
        return whole_number(text) or SQLITE_MAX_INT
    return 1


class IdConverter(IntegerConverter):
    """``<int:…>`` in the console's URLs: the digits 0-9 only and at most SQLITE_MAX_INT, so an id out of
    SQLite's range is "not found" (404) instead of an OverflowError."""

    regex = r"[0-9]+"

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None,  # noqa: A002 - werkzeug's names
                 max: int | None = SQLITE_MAX_INT, signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, max, signed)

    def to_python(self, value: str):
        if len(value.lstrip("0")) > len(str(SQLITE_MAX_INT)):
            raise ValidationError()
        return super().to_python(value)


def private_image(data: bytes) -> Response:
    """A JPEG that no browser or proxy may keep (children's faces)."""
    return Response(data, mimetype="image/jpeg",
                    headers={"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"})


def done(message: str, target: str, *, ok: bool = True):
    flash(message, "ok" if ok else "error")
    return redirect(target, code=303)
