"""Spreadsheet-safe CSV cells: a cell that a spreadsheet would run as a formula is written as text.

A register name such as ``=HYPERLINK(...)`` or ``@SUM(...)`` opened in Excel or LibreOffice from
an audit CSV would run. Any text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return gets a leading apostrophe (OWASP's advice), which spreadsheets show as plain text.
"""
from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value):
    """``value`` made safe for a CSV cell (numbers and empty cells unchanged)."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = str(value)
    if text.lstrip(" \n").startswith(FORMULA_START) or text.startswith(FORMULA_START):
        return "'" + text
    return text


def csv_row(values) -> list:
    """Every cell of a row through :func:`csv_cell`."""
    return [csv_cell(v) for v in values]
