"""Open an input safely: a regular file, no link on its path, within the size limit, never blocking.

Every entry point (process, watch, audit, enrol, consent import, caption sidecars) opens files
through here. The checks are made on the open file, not on a name looked up earlier, so a file
swapped for a link or a pipe between listing and opening is still refused:

* each folder between the given root and the file is opened with ``O_NOFOLLOW | O_DIRECTORY``
  relative to the one before (``dir_fd``), so no component can be a symbolic link;
* the file itself is opened with ``O_RDONLY | O_NOFOLLOW | O_NONBLOCK`` (a FIFO cannot block
  the open, a link is refused by the kernel);
* ``fstat`` on the descriptor then requires a regular file within ``max_bytes``;
* reading never takes more than ``max_bytes`` (a file that grows while read is refused).

Anything refused raises :class:`Refused` with a plain-words reason for the record; nothing is
skipped silently.
"""
from __future__ import annotations

import errno
import os
import stat

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_FILE_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_NOATIME = getattr(os, "O_NOATIME", 0)
CHUNK = 1024 * 1024


class Refused(Exception):
    """An input the gate will not open; ``why`` is the reason in plain words, ``kind`` a short tag."""

    def __init__(self, why: str, kind: str):
        super().__init__(why)
        self.why = why
        self.kind = kind   # link | special | folder | too_large | missing | denied | name_too_long | unreadable


LINK_WHY = "it is a shortcut (symbolic link), not a photo; copy the photo itself"
FOLDER_LINK_WHY = "a folder on its path is a shortcut (symbolic link), which is never followed"
SPECIAL_WHY = "it is not a regular file (a pipe, socket or device), so it was not opened"


def _size_why(size: int, max_bytes: int) -> str:
    return (f"the file is {size / 1e6:.0f} MB; the limit is {max_bytes / 1024 / 1024:g} MB "
            "([limits] max_file_mb)")


def _refusal(exc: OSError, *, folder: bool = False) -> Refused:
    code = exc.errno
    if code in (errno.ELOOP, getattr(errno, "EMLINK", -1)) or (folder and code == errno.ENOTDIR):
        return Refused(FOLDER_LINK_WHY if folder else LINK_WHY, "link")
    if code == errno.ENXIO or code == errno.EOPNOTSUPP:
        return Refused(SPECIAL_WHY, "special")
    if code == errno.ENAMETOOLONG:
        return Refused("its name is longer than the file system allows", "name_too_long")
    if code == errno.ENOENT:
        return Refused("the file disappeared before it could be read", "missing")
    if code in (errno.EACCES, errno.EPERM):
        return Refused("the pipeline is not allowed to read it (permission denied); "
                       "give the pipeline read access and try again", "denied")
    if code == errno.EISDIR:
        return Refused("it is a folder, not a file", "folder")
    return Refused(f"it could not be read ({(exc.strerror or str(exc)).lower()})", "unreadable")


def _components(path: str, root: str | None) -> tuple[str | None, list[str]]:
    """``(root, parts)`` when ``path`` lies inside ``root`` (parts relative to it), else ``(None, [path])``."""
    if root is None:
        return None, [path]
    try:
        rel = os.path.relpath(path, root)
    except ValueError:
        return None, [path]
    if rel == os.curdir or rel.startswith(os.pardir + os.sep) or rel == os.pardir or os.path.isabs(rel):
        return None, [path]
    return root, [p for p in rel.split(os.sep) if p not in ("", os.curdir)]


def _open_file(name: str, dir_fd: int | None, follow: bool) -> int:
    flags = _FILE_FLAGS | (0 if follow else _NOFOLLOW)
    try:
        return os.open(name, flags | _NOATIME, dir_fd=dir_fd)
    except OSError as exc:
        if _NOATIME and exc.errno in (errno.EPERM, errno.EINVAL):  # O_NOATIME: the owner only
            return os.open(name, flags, dir_fd=dir_fd)
        raise


def open_input(path: str | os.PathLike, *, root: str | os.PathLike | None = None, max_bytes: int | None = None,
               follow_links: bool = False) -> tuple[int, os.stat_result]:
    """``(fd, fstat)`` of a regular file; the caller closes ``fd``. Raises :class:`Refused`.

    ``root``: the folder the user named; no folder between it and ``path`` may be a link
    (unless ``follow_links``). The root itself was named by the user and is taken as it is.
    """
    path = os.fspath(path)
    root = os.fspath(root) if root is not None else None
    base, parts = _components(path, root)
    dir_fd = None
    try:
        if base is not None:
            try:  # the root as the user named it (resolved once), then nothing below it may be a link
                dir_fd = os.open(os.path.realpath(base), _DIR_FLAGS | _NOFOLLOW)
            except OSError as exc:
                raise _refusal(exc) from None
            for part in parts[:-1]:
                try:
                    nxt = os.open(part, _DIR_FLAGS | (0 if follow_links else _NOFOLLOW), dir_fd=dir_fd)
                except OSError as exc:
                    raise _refusal(exc, folder=True) from None
                os.close(dir_fd)
                dir_fd = nxt
        try:
            fd = _open_file(parts[-1], dir_fd, follow_links)
        except OSError as exc:
            raise _refusal(exc) from None
    finally:
        if dir_fd is not None:
            os.close(dir_fd)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise Refused("it is a folder, not a file", "folder")
        if not stat.S_ISREG(st.st_mode):
            raise Refused(SPECIAL_WHY, "special")
        if max_bytes is not None and st.st_size > max_bytes:
            raise Refused(_size_why(st.st_size, max_bytes), "too_large")
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def _read_fd(fd: int, size_hint: int, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes from ``fd``; ``(data, more)`` where ``more`` says the file holds more."""
    parts, total = [], 0
    want = min(size_hint, limit) if size_hint else min(CHUNK, limit)
    while total < limit:
        try:
            chunk = os.read(fd, max(1, min(max(want, CHUNK), limit - total)))
        except BlockingIOError:  # cannot happen for a regular file; never wait
            break
        if not chunk:
            return b"".join(parts) if len(parts) != 1 else parts[0], False
        parts.append(chunk)
        total += len(chunk)
        want = CHUNK
    data = b"".join(parts) if len(parts) != 1 else parts[0]
    try:
        more = bool(os.read(fd, 1))
    except OSError:
        more = False
    return data, more


def read_input(path: str | os.PathLike, *, root: str | os.PathLike | None = None, max_bytes: int,
               follow_links: bool = False) -> bytes:
    """The whole file through the gate, refused (:class:`Refused`) if over ``max_bytes`` at any point."""
    fd, st = open_input(path, root=root, max_bytes=max_bytes, follow_links=follow_links)
    try:
        try:
            data, more = _read_fd(fd, st.st_size, max_bytes)
        except OSError as exc:
            raise _refusal(exc) from None
    finally:
        os.close(fd)
    if more:
        raise Refused("the file grew beyond the size limit while it was being read", "too_large")
    return data


def read_capped(path: str | os.PathLike, *, root: str | os.PathLike | None = None, limit: int,
                follow_links: bool = False) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of a regular file (a caption sidecar): ``(data, truncated)``."""
    fd, st = open_input(path, root=root, follow_links=follow_links)
    try:
        try:
            return _read_fd(fd, min(st.st_size, limit), limit)
        except OSError as exc:
            raise _refusal(exc) from None
    finally:
        os.close(fd)


def check_path(path: str | os.PathLike, *, root: str | os.PathLike | None = None,
               follow_links: bool = False) -> Refused | None:
    """Why ``path`` would be refused, from ``lstat`` alone (nothing is opened), or None."""
    path = os.fspath(path)
    base, parts = _components(path, os.fspath(root) if root is not None else None)
    here = base
    for i, part in enumerate(parts):
        here = os.path.join(here, part) if here is not None else part
        try:
            st = os.stat(here) if follow_links else os.lstat(here)
        except OSError as exc:
            return _refusal(exc, folder=i < len(parts) - 1)
        if stat.S_ISLNK(st.st_mode):
            return Refused(FOLDER_LINK_WHY if i < len(parts) - 1 else LINK_WHY, "link")
    if stat.S_ISDIR(st.st_mode):
        return Refused("it is a folder, not a file", "folder")
    if not stat.S_ISREG(st.st_mode):
        return Refused(SPECIAL_WHY, "special")
    return None
