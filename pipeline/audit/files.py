"""The audited tree, read-only: walk every file, open for reading only, never follow a link.

Every file of every given folder is listed (hidden ones too: an audit looks at
everything). Symbolic links are reported as not checked and never followed (unless
``--follow-links``: then each folder is entered once, so a link loop ends), so the audit
cannot wander out of the tree; sockets, pipes and devices are reported and never opened.
Files are opened through the gate (``processors.gate``): ``O_RDONLY | O_NOFOLLOW |
O_NONBLOCK`` (and ``O_NOATIME`` where the system allows it, so even the access time stays
as it was), no link on the path inside the audited folder, ``fstat`` checked after opening;
nothing in this module can create, change or delete a file.
"""
from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from processors.gate import Refused, display, open_input

CHUNK = 1024 * 1024
HEAD_BYTES = 4096


@dataclass(frozen=True)
class Entry:
    """One thing found in the audited tree."""

    path: str      # path to open (as given + relative part)
    rel: str       # path relative to the audited folder (the file name for a file given directly)
    kind: str      # file | symlink | special | unreadable | loop
    note: str = ""
    root: str | None = None   # the audited folder (no link may lie between it and the file)


def walk(roots: list[str], follow_links: bool = False):
    """Yield an :class:`Entry` for everything under ``roots`` (sorted, depth first, links not followed
    unless ``follow_links``; a folder reached twice through links is entered once)."""
    for root in roots:
        try:
            st = os.stat(root)  # a path named on the command line is followed once: the user chose it
        except OSError as exc:
            yield Entry(root, os.path.basename(root), "unreadable", _why(exc))
            continue
        if not stat.S_ISDIR(st.st_mode):
            # a file named directly: a link named on the command line is the user's choice, follow it once
            real = os.path.realpath(root) if os.path.islink(root) else root
            yield _entry(real, os.path.basename(os.path.normpath(root)), None, follow_links)
            continue
        seen = {(st.st_dev, st.st_ino)}
        yield from _walk_dir(root, "", follow_links, seen)


def _walk_dir(top: str, rel: str, follow_links: bool, seen: set):
    here = os.path.join(top, rel) if rel else top
    try:
        with os.scandir(here) as it:
            children = sorted(it, key=lambda e: os.fsencode(e.name))
    except OSError as exc:
        yield Entry(here, rel or ".", "unreadable", f"the folder could not be listed ({_why(exc)})", top)
        return
    for child in children:
        child_rel = os.path.join(rel, child.name) if rel else child.name
        try:
            is_dir = child.is_dir(follow_symlinks=follow_links)
        except OSError:
            is_dir = False
        if is_dir:
            try:
                st = os.stat(child.path)
            except OSError as exc:
                yield Entry(child.path, child_rel, "unreadable", _why(exc), top)
                continue
            if (st.st_dev, st.st_ino) in seen:
                yield Entry(child.path, child_rel, "loop",
                            "a shortcut back to a folder this audit already checks; not entered twice", top)
                continue
            seen.add((st.st_dev, st.st_ino))
            yield from _walk_dir(top, child_rel, follow_links, seen)
        else:
            yield _entry(child.path, child_rel, top, follow_links)


def _entry(path: str, rel: str, root: str | None = None, follow_links: bool = False) -> Entry:
    try:
        st = os.lstat(path)
    except OSError as exc:
        return Entry(path, rel, "unreadable", _why(exc), root)
    if stat.S_ISLNK(st.st_mode):
        try:
            target = display(os.readlink(path))
        except OSError:
            target = "?"
        if not follow_links:
            return Entry(path, rel, "symlink", f"a shortcut (symbolic link to {target}) was not followed; "
                                               "audit its target, or run again with --follow-links", root)
        try:
            st = os.stat(path)
        except OSError:
            return Entry(path, rel, "unreadable", f"a shortcut (symbolic link to {target}) that leads nowhere", root)
    if not stat.S_ISREG(st.st_mode):
        return Entry(path, rel, "special", "not a regular file (a pipe, socket or device); not opened", root)
    return Entry(path, rel, "file", "", root)


def count(roots: list[str], follow_links: bool = False) -> int:
    """How many entries ``walk`` will yield (a listing only, nothing is opened)."""
    return sum(1 for _ in walk(roots, follow_links))


# --------------------------------------------------------------------------- reading

class GateRefused(OSError):
    """The gate refused to open a file; ``str()`` is the reason in plain words."""

    def __init__(self, why: str):
        super().__init__(errno.EPERM, why)
        self.why = why

    def __str__(self) -> str:
        return self.why


def open_readonly(path: str, root: str | None = None, follow_links: bool = False) -> int:
    """A read-only file descriptor for a regular file, through the gate (``processors.gate``): never
    follows a link (unless ``follow_links``), never blocks on a pipe. Raises :class:`GateRefused`."""
    try:
        fd, _ = open_input(path, root=root, follow_links=follow_links)
    except Refused as exc:
        if exc.kind == "missing":
            raise FileNotFoundError(errno.ENOENT, exc.why, path) from None
        if exc.kind == "denied":
            raise PermissionError(errno.EACCES, exc.why, path) from None
        raise GateRefused(exc.why) from None
    return fd


def hash_file(path: str, root: str | None = None, follow_links: bool = False,
              limit: int | None = None) -> tuple[str | None, int, bytes]:
    """``(sha256, size, first bytes)`` of a file, read in chunks (memory stays flat for any size).

    A file larger than ``limit`` is not read beyond its first bytes (bounded cost: a 1 TB sparse
    file costs nothing): its hash is then None.
    """
    digest = hashlib.sha256()
    size, head = 0, b""
    fd = open_readonly(path, root, follow_links)
    try:
        if limit is not None:
            whole = os.fstat(fd).st_size
            if whole > limit:
                return None, whole, os.read(fd, HEAD_BYTES)
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


def read_bytes(path: str, limit: int | None = None, follow_links: bool = False) -> bytes:
    """The file's bytes (at most ``limit``)."""
    fd = open_readonly(path, follow_links=follow_links)
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
    if isinstance(exc, GateRefused):
        return exc.why
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
