"""What is in the inbox: photos, caption sidecars, things never to be read, things to ignore.

The scan never follows a symbolic link and never opens a file: it only lists
folders and reads metadata (``lstat``), so a link to ``/etc/shadow`` or a FIFO
cannot make it read or block. Rules (documented in docs/watcher.md):

* hidden and temporary names are ignored until renamed: ``.*`` (``.DS_Store``,
  ``._IMG_1.jpg``, rsync's ``.IMG_1.jpg.Ab12``), ``~$*`` and ``*~``, ``*.part``,
  ``*.partial``, ``*.crdownload``, ``*.download``, ``*.tmp``, ``*.temp``,
  ``*.filepart``, and the system files ``Thumbs.db``, ``ehthumbs.db``,
  ``desktop.ini``; hidden or system folders (``.*``, ``@eaDir``, ``#recycle``,
  ``$RECYCLE.BIN``, ``System Volume Information``) are not entered;
* ``X.txt`` next to ``X.jpg`` (or ``X.jpg.txt``) is that photo's caption and
  travels with it; a ``.txt`` with no photo of that name is an input of its own;
* a symbolic link (to a file or a folder), a FIFO, socket or device is never
  read: it is quarantined as it is;
* a file the watcher may not read is quarantined without being read.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

IGNORED_FILE_NAMES = frozenset({"thumbs.db", "ehthumbs.db", "ehthumbs_vista.db", "desktop.ini"})
TEMP_SUFFIXES = (".part", ".partial", ".crdownload", ".download", ".tmp", ".temp", ".filepart", ".opdownload")
IGNORED_DIR_NAMES = frozenset({"@eadir", "#recycle", "#snapshot", "$recycle.bin", "system volume information"})
CAPTION_SUFFIX = ".txt"

# kinds of entry
PHOTO = "photo"          # a regular file to hand to the processor (any format: it decides)
CAPTION = "caption"      # X.txt whose photo X.* or X is in the same folder
LINK = "link"            # symbolic link: never followed
SPECIAL = "special"      # FIFO, socket, device: never opened
UNREADABLE = "unreadable"  # regular file we are not allowed to read
EMPTY_DIR = "empty_dir"  # an empty sub-folder below a staff folder


def is_ignored_file(name: str) -> bool:
    low = name.lower()
    return (
        name.startswith(".")
        or name.startswith("~$")
        or name.endswith("~")
        or low in IGNORED_FILE_NAMES
        or low.endswith(TEMP_SUFFIXES)
    )


def is_ignored_dir(name: str) -> bool:
    return name.startswith(".") or name.lower() in IGNORED_DIR_NAMES


@dataclass(frozen=True)
class Entry:
    path: Path
    kind: str
    sig: tuple          # (size, mtime_ns, inode): changes while a file is being written
    depth: int          # 1 = directly in inbox/ (or a staff folder itself for EMPTY_DIR)
    partners: tuple[Path, ...] = ()  # PHOTO: its caption sidecars; CAPTION: the photos it belongs to


@dataclass
class Scan:
    entries: list[Entry] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)
    problems: list[tuple[Path, str]] = field(default_factory=list)  # folders we could not list

    def by_path(self) -> dict[Path, Entry]:
        return {e.path: e for e in self.entries}


def signature(st: os.stat_result) -> tuple:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def caption_owner_names(photo_name: str) -> tuple[str, str]:
    """Names of the caption sidecars of ``photo_name``: ``IMG_1.txt`` and ``IMG_1.jpg.txt``."""
    stem = os.path.splitext(photo_name)[0]
    return stem + CAPTION_SUFFIX, photo_name + CAPTION_SUFFIX


def scan(inbox: Path) -> Scan:
    """List everything under ``inbox`` without following links or opening files."""
    result = Scan()
    stack: list[tuple[Path, int]] = [(Path(inbox), 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(folder) as it:
                children = list(it)
        except FileNotFoundError:
            continue
        except OSError as exc:
            result.problems.append((folder, exc.strerror or str(exc)))
            continue
        files: list[tuple[os.DirEntry, os.stat_result]] = []
        for child in children:
            try:
                st = child.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            except OSError as exc:
                result.problems.append((Path(child.path), exc.strerror or str(exc)))
                continue
            path = Path(child.path)
            if stat.S_ISLNK(st.st_mode):
                result.entries.append(Entry(path, LINK, signature(st), depth + 1))
            elif stat.S_ISDIR(st.st_mode):
                if is_ignored_dir(child.name):
                    result.ignored.append(path)
                else:
                    stack.append((path, depth + 1))
            elif stat.S_ISREG(st.st_mode):
                if is_ignored_file(child.name):
                    result.ignored.append(path)
                else:
                    files.append((child, st))
            else:
                result.entries.append(Entry(path, SPECIAL, signature(st), depth + 1))
        if not children and depth >= 2:
            try:
                st = os.lstat(folder)
                result.entries.append(Entry(folder, EMPTY_DIR, (0, st.st_mtime_ns, st.st_ino), depth))
            except OSError:
                pass
        result.entries.extend(_classify_files(files, depth + 1))
    return result


def _classify_files(files: list[tuple[os.DirEntry, os.stat_result]], depth: int) -> list[Entry]:
    names = {child.name for child, _ in files}
    photo_names = [n for n in names if not n.endswith(CAPTION_SUFFIX)]
    # caption name -> photos it belongs to
    owners: dict[str, list[str]] = {}
    for photo in photo_names:
        for cap in caption_owner_names(photo):
            if cap in names:
                owners.setdefault(cap, []).append(photo)
    out = []
    for child, st in files:
        path = Path(child.path)
        sig = signature(st)
        folder = path.parent
        if child.name in owners:
            out.append(Entry(path, CAPTION, sig, depth, tuple(folder / p for p in sorted(owners[child.name]))))
            continue
        caps = ()
        if not child.name.endswith(CAPTION_SUFFIX):
            caps = tuple(folder / c for c in caption_owner_names(child.name) if c in names)
        kind = PHOTO if os.access(path, os.R_OK) else UNREADABLE
        out.append(Entry(path, kind, sig, depth, caps))
    return out
