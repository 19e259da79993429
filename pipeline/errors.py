"""Expected failures: explained in a plain sentence, never a traceback."""


class UserError(Exception):
    """Something the person running the command can fix; exit code 2."""

    exit_code = 2
