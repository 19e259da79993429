"""The gate every input passes before it is opened: regular files only, no links, bounded size and cost.

``open_input`` / ``read_input`` (``processors.gate.files``) refuse anything that is not a plain
regular file inside the given folder; ``display`` (``processors.gate.display``) turns any file
name (bytes that are not UTF-8, control characters, 255-byte names) into text safe to show and
store; ``Budget`` (``processors.gate.budget``) caps the work spent on one input; ``csv_cell``
(``processors.gate.cells``) keeps spreadsheet formulas out of every CSV the product writes.
"""
from processors.gate.budget import Budget, BudgetExceeded
from processors.gate.cells import csv_cell, csv_row
from processors.gate.display import display, fits_name_max, NAME_MAX
from processors.gate.files import Refused, open_input, read_input, read_capped, check_path

__all__ = ["Budget", "BudgetExceeded", "csv_cell", "csv_row", "display", "fits_name_max", "NAME_MAX",
           "Refused", "open_input", "read_input", "read_capped", "check_path"]
