"""The audited tree, read-only: walk every file, open for reading only, never follow a link.

Every file of every given folder is listed (hidden ones too: an audit looks at
everything). Symbolic links are reported and never followed, so the audit cannot
wander out of the tree; sockets, pipes and devices are reported and never opened.
Files are opened with ``O_RDONLY | O_NOFOLLOW | O_NONBLOCK`` (and ``O_NOATIME``
where the system allows it, so even the access time stays as it was); nothing in
this module can create, change or delete a file.
"""
from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1024 * 1024
HEAD_BYTES = 4096


@dataclass(frozen=True)
class Entry:
    """One thing found in the audited tree."""

    path: str      # path to open (as given + relative part)
    rel: str       # path relative to the audited folder (the file name for a file given directly)
    kind: str      # file | symlink | special | unreadable
    note: str = ""


def walk(roots: list[str]):
    """Yield an :class:`Entry` for everything under ``roots`` (sorted, depth first, links not followed)."""
    for root in roots:
        try:
            st = os.stat(root)  # a path named on the command line is followed once: the user chose it
        except OSError as exc:
            yield Entry(root, os.path.basename(root), "unreadable", _why(exc))
            continue
        if not stat.S_ISDIR(st.st_mode):
            # a file named directly: a link named on the command line is the user's choice, follow it once
            real = os.path.realpath(root) if os.path.islink(root) else root
            yield _entry(real, os.path.basename(os.path.normpath(root)))
            continue
        yield from _walk_dir(root, "")


def _walk_dir(top: str, rel: str):
    here = os.path.join(top, rel) if rel else top
    try:
        with os.scandir(here) as it:
            children = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        yield Entry(here, rel or ".", "unreadable", f"the folder could not be listed ({_why(exc)})")
        return
    for child in children:
        child_rel = os.path.join(rel, child.name) if rel else child.name
        try:
            is_dir = child.is_dir(follow_symlinks=False)
        except OSError:
            is_dir = False
        if is_dir:
            yield from _walk_dir(top, child_rel)
        else:
            yield _entry(child.path, child_rel)


def _entry(path: str, rel: str) -> Entry:
    try:
        st = os.lstat(path)
    except OSError as exc:
        return Entry(path, rel, "unreadable", _why(exc))
    if stat.S_ISLNK(st.st_mode):
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        return Entry(path, rel, "symlink", f"a shortcut (symbolic link to {target}); not followed")
    if not stat.S_ISREG(st.st_mode):
        return Entry(path, rel, "special", "not a regular file (a pipe, socket or device); not opened")
    return Entry(path, rel, "file")


def count(roots: list[str]) -> int:
    """How many entries ``walk`` will yield (a listing only, nothing is opened)."""
    return sum(1 for _ in walk(roots))


# --------------------------------------------------------------------------- reading

_BASE_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_NOATIME = getattr(os, "O_NOATIME", 0)


def open_readonly(path: str) -> int:
    """A read-only file descriptor for a regular file; never follows a link, never blocks on a pipe."""
    try:
        fd = os.open(path, _BASE_FLAGS | _NOATIME)
    except PermissionError:
        if not _NOATIME:
            raise
        fd = os.open(path, _BASE_FLAGS)  # O_NOATIME is only allowed to the file's owner
    except OSError as exc:
        if exc.errno == errno.EINVAL and _NOATIME:  # file systems without O_NOATIME
            fd = os.open(path, _BASE_FLAGS)
        else:
            raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(errno.EISDIR, "not a regular file", path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def hash_file(path: str) -> tuple[str, int, bytes]:
    """``(sha256, size, first bytes)`` of a file, read in chunks (memory stays flat for any size)."""
    digest = hashlib.sha256()
    size, head = 0, b""
    fd = open_readonly(path)
    try:
        while True:
            chunk = os.read(fd, CHUNK)
            if not chunk:
                break
            if size < HEAD_BYTES:
                head += chunk[:HEAD_BYTES - size]
            size += len(chunk)
            digest.update(chunk)
    finally:
        os.close(fd)
    return digest.hexdigest(), size, head


def read_bytes(path: str, limit: int | None = None) -> bytes:
    """The file's bytes (at most ``limit``)."""
    fd = open_readonly(path)
    try:
        parts, total = [], 0
        while limit is None or total < limit:
            chunk = os.read(fd, CHUNK if limit is None else min(CHUNK, limit - total))
            if not chunk:
                break
            parts.append(chunk)
            total += len(chunk)
        return b"".join(parts)
    finally:
        os.close(fd)


def _why(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied: give the account running the audit read access"
    if isinstance(exc, FileNotFoundError):
        return "it disappeared while the audit was running"
    return exc.strerror or str(exc)


def why_unreadable(exc: OSError) -> str:
    return f"could not be read ({_why(exc)})"


def is_within(path: str | Path, folder: str | Path) -> bool:
    """True when ``path`` is ``folder`` or inside it (both resolved)."""
    try:
        Path(path).resolve().relative_to(Path(folder).resolve())
        return True
    except (ValueError, OSError):
        return False
