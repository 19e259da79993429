"""Enrol reference photos: one face per photo, one 128-number descriptor per photo, per person.

Layouts accepted (``DIR`` is the folder given on the command line):

* ``DIR/<person_id>/<anything>.jpg`` — a folder per person (sub-folders included);
* ``DIR/<person_id>.jpg``, ``DIR/<person_id>_2.jpg``, ``DIR/<person_id> school.jpg`` … — the file
  name starts with a person id followed by a non-alphanumeric character or the end of the name
  (the longest matching id wins, so ``P10_1.jpg`` is P10, not P1).

Each photo must show exactly one face; otherwise that photo is refused with a reason and
the others still enrol. A person without biometric consent (register column ``biometric`` = yes,
a parent's written consent) is refused: no reference photo of them is read or kept. Re-enrolling the same photo (same bytes) changes nothing.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from consent.database import now_iso, transaction
from consent.identification.guard import screen
from consent.register import load_reference_encodings, record_event
from processors.decode import RejectedImage, decode_image
from processors.face_detect import DetectOptions, detect
from processors.face_encode import box_size, encode_detection
from processors.gate import Refused, check_path, display, read_input

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".heic", ".heif"}
JUNK_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}
MAX_EDGE = 1600          # photos are downscaled to this longest edge before detection (speed)
MAX_PIXELS = 100_000_000  # refuse larger images (decompression bombs)
MAX_BYTES = 200 * 1024 * 1024


NO_BIOMETRIC = ("'{pid}' has no biometric consent in the register (column biometric must be yes, which needs a "
                "parent's written consent): no reference photo was read or kept. Without it {pid} is never "
                "recognised and is always blurred as unknown.")


class PhotoError(Exception):
    """A reference photo that cannot be used; the message is the reason shown to the user."""


@dataclass
class EnrolReport:
    enrolled: list[tuple[str, str]] = field(default_factory=list)   # (file, person_id)
    already: list[tuple[str, str]] = field(default_factory=list)    # (file, person_id) same photo enrolled before
    refused: list[tuple[str, str]] = field(default_factory=list)    # (file, reason)

    def to_json(self) -> dict:
        return {
            "enrolled": [{"file": f, "person_id": p} for f, p in self.enrolled],
            "already_enrolled": [{"file": f, "person_id": p} for f, p in self.already],
            "refused": [{"file": f, "reason": r} for f, r in self.refused],
        }


@dataclass
class DecodedPhoto:
    rgb: np.ndarray            # orientation-corrected, downscaled to MAX_EDGE
    scale: tuple[float, float]  # (y, x) factors from rgb coordinates to the orientation-corrected original


# ---------------------------------------------------------------- finding the photos

def find_reference_photos(directory: Path, person_ids: set[str]) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    """``(photos, refused)``: photo files with the person id they belong to, and files refused with a reason."""
    directory = Path(directory)
    folded: dict[str, list[str]] = {}
    for pid in person_ids:
        folded.setdefault(pid.casefold(), []).append(pid)

    def lookup(name: str) -> str | None:
        if name in person_ids:
            return name
        candidates = folded.get(name.casefold(), [])
        return candidates[0] if len(candidates) == 1 else None

    photos: list[tuple[Path, str]] = []
    refused: list[tuple[Path, str]] = []
    for entry in sorted(directory.iterdir()):
        if _is_junk(entry):
            continue
        not_plain = check_path(entry, root=directory)
        if not_plain is not None and not_plain.kind != "folder":  # a link, pipe or device: never opened
            refused.append((entry, not_plain.why))
            continue
        if entry.is_dir():
            pid = lookup(entry.name)
            for f in _files_under(entry):
                if _is_junk(f):
                    continue
                gate = check_path(f, root=directory)
                if gate is not None:
                    refused.append((f, gate.why))
                elif pid is None:
                    refused.append((f, f"the folder '{entry.name}' is not a person_id in the register "
                                       "(name each folder after a person_id from the register CSV)"))
                elif f.suffix.lower() not in PHOTO_SUFFIXES:
                    refused.append((f, _not_a_photo(f)))
                else:
                    photos.append((f, pid))
        elif entry.is_file():
            if entry.suffix.lower() not in PHOTO_SUFFIXES:
                refused.append((entry, _not_a_photo(entry)))
                continue
            pid = _person_from_filename(entry.stem, person_ids) or _person_from_filename(
                entry.stem.casefold(), set(folded), folded)
            if pid is None:
                refused.append((entry, "the file name does not start with a person_id from the register "
                                       "(name it like P001.jpg or P001_2.jpg, or put it in a folder named P001)"))
            else:
                photos.append((entry, pid))
    return photos, refused


def _files_under(folder: Path) -> list[Path]:
    """Everything below ``folder`` that is not a folder (links and pipes included, so the gate can
    refuse them with a reason); links to folders are listed, never entered."""
    out: list[Path] = []
    for root, dirs, files in os.walk(folder):
        links = [d for d in dirs if os.path.islink(os.path.join(root, d))]
        dirs[:] = sorted(d for d in dirs if d not in links and not d.startswith("."))
        out += [Path(root) / f for f in files + links]
    return sorted(out)


def _is_junk(path: Path) -> bool:
    return path.name.startswith(".") or path.name.lower() in JUNK_NAMES


def _not_a_photo(path: Path) -> str:
    return f"not a reference photo type ({path.suffix or 'no extension'}); use JPEG, PNG or HEIC"


def _person_from_filename(stem: str, ids: set[str], folded: dict[str, list[str]] | None = None) -> str | None:
    best = None
    for pid in ids:
        if stem.startswith(pid) and (len(stem) == len(pid) or not stem[len(pid)].isalnum()):
            if best is None or len(pid) > len(best):
                best = pid
    if best is not None and folded is not None:  # case-insensitive match: only when unambiguous
        return folded[best][0] if len(folded[best]) == 1 else None
    return best


# ---------------------------------------------------------------- reading one photo

def decode_photo(path: Path, max_edge: int = MAX_EDGE, data: bytes | None = None) -> DecodedPhoto:
    """Open a photo with the release path's decoder (same checks, EXIF orientation, sRGB) and
    downscale it to ``max_edge``. Raises PhotoError."""
    if data is None:
        try:
            data = read_input(path, max_bytes=MAX_BYTES)
        except Refused as exc:
            raise PhotoError(f"cannot be read: {exc.why}") from None
    try:
        decoded = decode_image(data, name=display(path.name), max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS,
                               min_long_edge=max_edge)
    except RejectedImage as exc:
        raise PhotoError(f"cannot be read as a photo: {exc.reason}") from None
    im = decoded.image
    if max(im.size) > max_edge:
        im = im.copy()
        im.thumbnail((max_edge, max_edge), Image.Resampling.LANCZOS)
    rgb = np.ascontiguousarray(np.asarray(im, dtype=np.uint8))
    width, height = decoded.original_size
    h, w = rgb.shape[:2]
    return DecodedPhoto(rgb, (height / h, width / w))


def reference_encoding(photo: DecodedPhoto, min_face_size: int) -> tuple[list[int], np.ndarray]:
    """``(box in original coordinates, descriptor)`` for the single face in a photo. Raises PhotoError."""
    detections = detect(photo.rgb, DetectOptions())
    boxes = [d.box for d in detections]
    if not boxes:
        raise PhotoError("no face found — use a clear, front-facing photo")
    if len(boxes) > 1:
        raise PhotoError(f"{len(boxes)} faces found — crop to one person")
    box = boxes[0]
    sy, sx = photo.scale
    top, right, bottom, left = box
    original = [round(top * sy), round(right * sx), round(bottom * sy), round(left * sx)]
    size = box_size(tuple(original))
    if size < min_face_size:
        raise PhotoError(f"the face is only {size} pixels across — use a closer photo "
                         f"(at least {min_face_size} pixels)")
    encoding = encode_detection(photo.rgb, detections[0])
    if encoding is None:  # its landmarks could not be trusted
        raise PhotoError("the face could not be measured — use a clearer photo")
    return original, np.asarray(encoding, dtype=np.float64)


# ---------------------------------------------------------------- enrolling

def enrol_directory(conn, directory: str | Path, *, actor: str, min_face_size: int = 40,
                    max_edge: int = MAX_EDGE, faces_cfg: dict | None = None) -> EnrolReport:
    """Enrol every reference photo under ``directory``; see the module docstring for the layouts.

    New photos pass the enrolment guard (:mod:`consent.identification.guard`): one that looks like
    another person is refused. ``faces_cfg`` is the ``[faces]`` configuration (the rule's settings).
    """
    directory = Path(directory)
    rows = conn.execute("SELECT person_id, forgotten_at, biometric FROM people").fetchall()
    active = {r[0] for r in rows if r[1] is None}
    no_biometric = {r[0] for r in rows if r[1] is None and not r[2]}
    forgotten = {r[0] for r in rows if r[1] is not None}
    photos, refused_paths = find_reference_photos(directory, active | forgotten)
    report = EnrolReport()

    def rel(p: Path) -> str:
        try:
            return display(p.relative_to(directory))
        except ValueError:
            return display(p)

    for path, reason in refused_paths:
        report.refused.append((rel(path), reason))

    owners: dict[str, set[str]] = {}
    for pid, sha in conn.execute("SELECT person_id, source_sha256 FROM reference_encodings"):
        owners.setdefault(sha, set()).add(pid)

    new_rows: list[tuple] = []
    added: dict[str, list[str]] = {}
    names_of: dict[str, str] = {}   # sha -> file name as reported
    for path, pid in photos:
        name = rel(path)
        if pid in forgotten:
            report.refused.append((name, f"'{pid}' has been forgotten; import them again with "
                                         "'pipeline consent import' before enrolling photos"))
            continue
        if pid in no_biometric:
            report.refused.append((name, NO_BIOMETRIC.format(pid=pid)))
            continue
        try:
            data = read_input(path, root=directory, max_bytes=MAX_BYTES)
        except Refused as exc:
            report.refused.append((name, f"cannot be read: {exc.why}"))
            continue
        sha = hashlib.sha256(data).hexdigest()
        others = owners.get(sha, set()) - {pid}
        if others:
            report.refused.append((name, f"the same photo is already given for {', '.join(sorted(others))}; "
                                         "one photo can only show one person"))
            continue
        if pid in owners.get(sha, set()):
            report.already.append((name, pid))
            continue
        try:
            box, encoding = reference_encoding(decode_photo(path, max_edge, data), min_face_size)
        except PhotoError as exc:
            report.refused.append((name, str(exc)))
            continue
        owners.setdefault(sha, set()).add(pid)
        new_rows.append((pid, display(path.name), sha, json.dumps(box), np.asarray(encoding, dtype="<f8").tobytes()))
        added.setdefault(pid, []).append(sha)
        names_of[sha] = name
        report.enrolled.append((name, pid))

    if new_rows:
        _guard(conn, new_rows, report, added, names_of, faces_cfg or {})

    at = now_iso()
    with transaction(conn):
        # people may have been forgotten while the photos were being read
        still_active = {r[0] for r in conn.execute(
            "SELECT person_id FROM people WHERE forgotten_at IS NULL AND biometric = 1")}
        gone = {pid for pid in added if pid not in still_active}
        if gone:
            report.refused += [(f, f"'{p}' was forgotten or lost biometric consent during enrolment")
                               for f, p in report.enrolled if p in gone]
            report.enrolled = [(f, p) for f, p in report.enrolled if p not in gone]
            new_rows = [r for r in new_rows if r[0] not in gone]
        conn.executemany(
            "INSERT OR IGNORE INTO reference_encodings(person_id, source_name, source_sha256, box, encoding, created_at) "
            "VALUES (?,?,?,?,?,?)", [(*r, at) for r in new_rows])
        for pid, shas in added.items():
            if pid not in gone:
                record_event(conn, "consent.enrol", actor, pid, {"reference_photos_added": len(shas), "sha256": shas}, at=at)
        record_event(conn, "consent.enrol", actor, None, {
            "enrolled": len(report.enrolled), "already_enrolled": len(report.already),
            "refused": len(report.refused)}, at=at)
    report.refused.sort()
    return report


def _guard(conn, new_rows: list[tuple], report: EnrolReport, added: dict[str, list[str]],
           names_of: dict[str, str], faces_cfg: dict) -> None:
    """Drop (in place) the new photos the enrolment guard refuses, with the reason in ``report``."""
    ids, existing = load_reference_encodings(conn)
    new = np.vstack([np.frombuffer(r[4], dtype="<f8") for r in new_rows])
    reasons, _ = screen(ids, existing, [r[0] for r in new_rows], new,
                        target=float(faces_cfg.get("identification_target", 1e-4)),
                        match_tolerance=float(faces_cfg.get("match_tolerance", 0.5)),
                        margin=float(faces_cfg.get("margin", 0.06)))
    refused = {(r[0], r[2]): why for r, why in zip(new_rows, reasons) if why}
    if not refused:
        return
    for (pid, sha), why in refused.items():
        added[pid].remove(sha)
        if not added[pid]:
            del added[pid]
        name = names_of[sha]
        report.enrolled.remove((name, pid))
        report.refused.append((name, why))
    new_rows[:] = [r for r in new_rows if (r[0], r[2]) not in refused]
