"""The `pipeline` command line: one module per command group, on top of everything else.

Commands hold no business rules: each parses its options and calls one shared function of
`pipeline`, `consent` or `watch_folders`. Nothing below imports this package.
"""
from pipeline.cli.main import main, run

__all__ = ["main", "run"]
