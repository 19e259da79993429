"""Who is acting: the name recorded with every decision when no signed-in person is given."""
from __future__ import annotations


def actor_name() -> str:
    """The login name of the user running the command ("unknown" where there is none)."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"
