"""Expected failures: explained in a plain sentence, never a traceback."""


class UserError(Exception):
    """Something the person running the command can fix; exit code 2."""

    exit_code = 2


def failure_sentence(exc: BaseException) -> str:
    """One plain sentence for an unexpected failure (the CLI's last resort, never a traceback)."""
    from processors.gate import display

    if isinstance(exc, OSError):
        why = (exc.strerror or str(exc)).rstrip(".")
        why = why[:1].lower() + why[1:]
        target = display(exc.filename) if exc.filename is not None else None
        if target is not None:
            return (f"cannot use {target}: {why}. Check that it exists, that there is free space and that "
                    "this account may read and write there.")
        return f"a file operation failed: {why}. Check free space and permissions, then run the command again."
    if isinstance(exc, MemoryError):
        return ("this computer ran out of memory. Lower [limits] max_megapixels or --workers, "
                "then run the command again.")
    detail = display(str(exc))[:200]
    return (f"the command stopped unexpectedly ({type(exc).__name__}: {detail}). Run it again; "
            "if it happens again, report it (PIPELINE_DEBUG=1 shows the details).")


def unchecked_reason(what: str, exc: BaseException) -> str:
    """Why a photo or clip (``what``) that could not be analysed was rejected, for the people who see
    it (staff, comms): the error's kind only — its text can hold pixel data or paths; the log has it."""
    return (f"Rejected: the {what} could not be checked for faces (an internal error, {type(exc).__name__}; "
            "the details are in the log); it was kept in quarantine — please report this.")
