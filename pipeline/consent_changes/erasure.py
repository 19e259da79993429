"""`consent forget`, complete: a forgotten person's biometric data and name are erased wherever the
workspace keeps them, and the database file and its WAL no longer hold the bytes.

``forget_everywhere(ws, person_id, actor=…)``:

1. the register forgets them (name, reference encodings, names in their history: ``consent.register``);
2. released images are brought in line (``pipeline.consent_changes.propagate``: their face redacted, their name taken out
   of captions);
3. every stored face template that was matched to them, had them as a candidate, or lies within
   ``radius`` of any of their reference encodings is erased (``faces.encoding`` = NULL), and nothing
   links a face to them any more (person, candidates, reviewer's confirmation, the job's JSON record);
4. audit-cache rows holding such a template, or their name in the stored metadata, are deleted
   (the next audit of that file analyses it again);
5. kept originals in which they appear, or whose bytes carry their name (EXIF, XMP, IPTC …), are
   rewritten as a pixels-only PNG with their face redacted, and the job records the new SHA-256; other
   files under quarantine/ carrying their name are deleted; text files (captions, reason files)
   and file names lose their name; held photos' previews are drawn again;
6. every text column of the database loses their name (full name in either order, given and family
   names as words, any case, with or without accents, JSON-escaped too);
7. the database is VACUUMed with ``secure_delete`` on and the WAL checkpointed and truncated.
"""
from __future__ import annotations

import io
import json
import os
import re
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from consent import register
from consent.database import now_iso, transaction
from consent.lifecycle import checkpoint
from consent.register import record_event
from pipeline.jobs import encoding_from_blob
from processors.names import NamedPerson
from processors.output import write_atomic
from processors.redact import redact

REMOVED = "[name removed]"
FILE_REMOVED = "name-removed"
RADIUS = 0.6  # at least this far from every reference photo, whatever review_tolerance says
ID_COLUMNS = {"person_id", "confirmed_person", "candidates"}  # person ids (the tombstone), never names
TEXT_SUFFIXES = {".txt", ".csv", ".json", ".log", ".html", ".xml", ".md"}


@dataclass
class ForgetResult:
    person_id: str
    report: object = None                      # PropagationReport of the released images changed
    faces_erased: int = 0
    audit_rows_erased: int = 0
    originals_rewritten: list[str] = field(default_factory=list)
    files_deleted: list[str] = field(default_factory=list)
    files_scrubbed: list[str] = field(default_factory=list)
    files_renamed: list[str] = field(default_factory=list)
    text_values_scrubbed: int = 0
    wal_truncated: bool = True
    tombstone: str | None = None               # the id spelt the name: it is kept as this pseudonym

    def to_json(self) -> dict:
        return {"person_id": self.person_id, "faces_erased": self.faces_erased,
                "audit_cache_rows_erased": self.audit_rows_erased, "originals_rewritten": self.originals_rewritten,
                "files_deleted": self.files_deleted, "files_scrubbed": self.files_scrubbed,
                "files_renamed": self.files_renamed, "text_values_scrubbed": self.text_values_scrubbed,
                "wal_truncated": self.wal_truncated}

    def lines(self) -> list[str]:
        out = [f"Erased: {self.faces_erased} stored face template{'s' if self.faces_erased != 1 else ''}, "
               f"{self.audit_rows_erased} audit-cache entr{'ies' if self.audit_rows_erased != 1 else 'y'}, "
               f"the name in {self.text_values_scrubbed} stored text value{'s' if self.text_values_scrubbed != 1 else ''}"
               f" and {len(self.files_scrubbed) + len(self.files_renamed)} file{'s' if len(self.files_scrubbed) + len(self.files_renamed) != 1 else ''}; "
               f"{len(self.originals_rewritten)} kept original{'s' if len(self.originals_rewritten) != 1 else ''} "
               "rewritten without them."]
        if self.files_deleted:
            out.append(f"Deleted {len(self.files_deleted)} quarantined file(s) that carried their name.")
        if self.tombstone:
            out.append(f"The id itself contained the name: the register and the audit trail now know it as "
                       f"{self.tombstone}. A later import of the old id is still recognised and skipped.")
        if not self.wal_truncated:
            out.append("WARNING: another program had the database open, so its journal (pipeline.db-wal) could "
                       "not be emptied yet; run 'pipeline consent forget' again once it has stopped.")
        return out


# ---------------------------------------------------------------- names

def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _variants(name: str) -> set[str]:
    out = {name, _fold(name)}
    out |= {json.dumps(v, ensure_ascii=True)[1:-1] for v in list(out)}
    return {v for v in out if v}


def name_pattern(names: list[str], given: str | None, family: str | None) -> re.Pattern | None:
    """One case-insensitive pattern for every way the name may be written."""
    sep = r"[\s_.,\-]{0,3}"
    alts: set[str] = set()
    fulls = [(given, family)] if given and family else []
    for g, f in fulls:
        for gv in _variants(g):
            for fv in _variants(f):
                gw = sep.join(re.escape(w) for w in gv.split())
                fw = sep.join(re.escape(w) for w in fv.split())
                alts.add(gw + sep + fw)
                alts.add(fw + sep + gw)
    for n in names:
        if n and len(n.strip()) >= 2:
            for v in _variants(n.strip()):
                alts.add(sep.join(re.escape(w) for w in v.split()))
    if not alts:
        return None
    body = "|".join(sorted(alts, key=len, reverse=True))
    pattern = re.compile(rf"(?<![^\W\d_])(?:{body})(?![^\W\d_])", re.IGNORECASE)  # letters only: "obama1.jpg" too
    words = {w for n in [*names, given or "", family or ""] for w in n.split() if len(w) >= 2}
    _NEEDLES[pattern.pattern] = _needles_for(words)
    return pattern


def scrub_text(text: str, pattern: re.Pattern | None, replacement: str = REMOVED,
               ids: frozenset[str] = frozenset()) -> str:
    """``text`` with every match of ``pattern`` replaced; a JSON string that is exactly a person id
    (``"biden"``) is an id, not a name, and is kept (ids are the tombstone)."""
    if pattern is None or not text:
        return text

    def sub(m: re.Match) -> str:
        a, b = m.start(), m.end()
        if ids and m.group(0) in ids and a > 0 and b < len(text) and text[a - 1] == '"' and text[b] == '"':
            return m.group(0)
        return replacement

    return pattern.sub(sub, text)


_NEEDLES: dict[str, list[bytes]] = {}  # pattern text -> cheap byte strings (filled by name_pattern)


def _needles_for(words: set[str]) -> list[bytes]:
    """Byte strings one of which must occur (ASCII-lowercased) wherever a name can be matched."""
    out = set()
    for w in words:
        head = re.match(r"[A-Za-z]+", w)  # "Zo\u00eb" (JSON-escaped) still starts with "Zo"
        forms = {w, w.lower(), w.upper(), w.casefold(), w.title(), _fold(w)}
        if head and len(head.group(0)) >= 2:
            forms.add(head.group(0))
        for form in forms:
            for codec in ("utf-8", "utf-16-le", "utf-16-be", "latin-1"):
                try:
                    out.add(form.encode(codec).lower())
                except UnicodeEncodeError:
                    pass
    return sorted(out, key=len)


def bytes_name(data: bytes, pattern: re.Pattern | None) -> bool:
    """Whether ``data`` carries the name in any common text encoding (metadata of an image, a document …)."""
    if pattern is None:
        return False
    needles = _NEEDLES.get(pattern.pattern)
    low = data.lower()
    if needles and not any(n in low for n in needles):
        return False
    for codec in ("utf-8", "utf-16-le", "utf-16-be", "latin-1"):
        if pattern.search(data.decode(codec, errors="ignore")):
            return True
    return False


# ---------------------------------------------------------------- entry point

def forget_everywhere(ws, person_id: str, *, actor: str) -> ForgetResult:
    """Forget ``person_id`` completely (see the module docstring); returns what was erased."""
    from pipeline.consent_changes.propagate import propagate

    conn = ws.db
    person = register.get_person(conn, person_id)
    result = ForgetResult(person_id)
    names = register._names_to_scrub(conn, person_id, person) if not person.forgotten else []
    pattern = name_pattern(names, person.given_name, person.family_name)
    refs = _reference_matrix(conn, person_id)
    named = ([NamedPerson(person_id, person.given_name, person.family_name)]
             if person.given_name and person.family_name else [])
    radius = max(RADIUS, float(ws.config["faces"]["review_tolerance"]))

    register.forget_person(conn, person_id, actor=actor)
    # The stored identification rule names people (look-alike pairs): compute it again without them
    # before the database is compacted.
    from consent.identification.store import recalibrate

    recalibrate(conn, ws.config["faces"])
    result.report = propagate(ws, [person_id], cause="consent forget", actor=actor, forgotten=named)

    from pipeline.consent_changes.rerender import render_lock

    conn.execute("PRAGMA secure_delete = ON")
    with render_lock(ws):  # no release or re-render reads an original while it is rewritten
        theirs = _erase_face_templates(conn, person_id, refs, radius, result)
        result.audit_rows_erased = _erase_audit_cache(conn, refs, radius, pattern)
        _scrub_files(ws, person_id, theirs, pattern, result)
        result.text_values_scrubbed = _scrub_database_text(conn, person_id, pattern)
    from consent.erased_ids import digest, rename_everywhere, spells_name

    if names and spells_name(person_id, names):  # the id itself spelt the name: a pseudonymous tombstone
        with transaction(conn):
            tombstone = "erased-" + digest(conn, person_id)[:12]
        rename_everywhere(conn, person_id, tombstone)
        result.tombstone = tombstone
    record_event(conn, "consent.erase", actor, result.tombstone or person_id,
                 {k: v for k, v in result.to_json().items() if k not in ("wal_truncated", "person_id")})
    result.wal_truncated = compact(conn)
    return result


def compact(conn: sqlite3.Connection) -> bool:
    """VACUUM (deleted bytes are gone from the file) and empty the WAL; False if a reader kept the WAL."""
    conn.execute("PRAGMA secure_delete = ON")
    checkpoint(conn)
    conn.execute("VACUUM")
    return checkpoint(conn)


def _reference_matrix(conn, person_id: str) -> np.ndarray:
    rows = conn.execute("SELECT encoding FROM reference_encodings WHERE person_id=?", (person_id,)).fetchall()
    if not rows:
        return np.zeros((0, 128))
    return np.frombuffer(b"".join(r[0] for r in rows), dtype="<f8").reshape(len(rows), 128).copy()


def _near(encoding, refs: np.ndarray, radius: float) -> bool:
    if encoding is None or not len(refs):
        return False
    e = np.asarray(encoding, dtype=np.float64).reshape(-1)
    if e.shape != (128,):
        return False
    return bool(np.min(np.linalg.norm(refs - e, axis=1)) <= radius)


# ---------------------------------------------------------------- the faces table

def _erase_face_templates(conn, person_id: str, refs, radius: float, result: ForgetResult) -> dict[int, list]:
    """Erase templates linked to or near the person; returns {job_id: [boxes of *their* faces]}."""
    theirs: dict[int, list] = {}
    jobs_changed: set[int] = set()
    with transaction(conn):
        for r in conn.execute("SELECT id, job_id, idx, box, encoding, person_id, match, candidates, confirmed_person"
                              " FROM faces").fetchall():
            cands = [c for c in json.loads(r["candidates"] or "[]")]
            cand_ids = {c[0] for c in cands}
            linked = person_id in {r["person_id"], r["confirmed_person"]} or person_id in cand_ids
            near = _near(encoding_from_blob(r["encoding"]), refs, radius)
            if not linked and not near:
                continue
            other = r["confirmed_person"] if r["confirmed_person"] not in (None, person_id, "unknown") else (
                r["person_id"] if r["match"] == "identified" and r["person_id"] != person_id else None)
            if other is None and (linked or near) and r["confirmed_person"] != "unknown":
                theirs.setdefault(r["job_id"], []).append(tuple(json.loads(r["box"])))
            kept = [c for c in cands if c[0] != person_id]
            pid = None if r["person_id"] == person_id else r["person_id"]
            match = "unknown" if pid is None else r["match"]
            confirmed = "unknown" if r["confirmed_person"] == person_id else r["confirmed_person"]
            conn.execute("UPDATE faces SET encoding=NULL, person_id=?, match=?, distance=CASE WHEN ? IS NULL THEN NULL"
                         " ELSE distance END, candidates=?, confirmed_person=? WHERE id=?",
                         (pid, match, pid, json.dumps(kept), confirmed, r["id"]))
            result.faces_erased += 1 if r["encoding"] is not None else 0
            jobs_changed.add(r["job_id"])
        conn.execute("UPDATE renewals SET decided_at=?, decision='superseded', actor='consent forget'"
                     " WHERE person_id=? AND decided_at IS NULL", (now_iso(), person_id))
        for job_id in sorted(jobs_changed):
            row = conn.execute("SELECT result_json FROM jobs WHERE id=?", (job_id,)).fetchone()
            if row and row[0]:
                record = json.loads(row[0])
                for f in record.get("faces", []):
                    if f.get("person") == person_id:
                        f.update(person=None, distance=None, match="unknown")
                    f["candidates"] = [c for c in f.get("candidates", []) if c[0] != person_id]
                conn.execute("UPDATE jobs SET result_json=? WHERE id=?",
                             (json.dumps(record, ensure_ascii=False), job_id))
    return theirs


# ---------------------------------------------------------------- the audit cache

def _erase_audit_cache(conn, refs, radius: float, pattern) -> int:
    import base64

    doomed = []
    for r in conn.execute("SELECT sha256, faces, metadata FROM audit_cache").fetchall():
        hit = bool(pattern is not None and pattern.search(r["metadata"] or ""))
        if not hit:
            for f in json.loads(r["faces"] or "[]"):
                enc = f.get("encoding")
                if enc is not None and _near(np.frombuffer(base64.b64decode(enc), dtype="<f8"), refs, radius):
                    hit = True
                    break
        if hit:
            doomed.append(r["sha256"])
    with transaction(conn):
        conn.executemany("DELETE FROM audit_cache WHERE sha256=?", [(s,) for s in doomed])
    return len(doomed)


# ---------------------------------------------------------------- every text column

def _scrub_database_text(conn, person_id: str, pattern) -> int:
    """The name out of every text value (the register's own rows of other people excepted)."""
    if pattern is None:
        return 0
    changed = 0
    ids = frozenset(r[0] for r in conn.execute("SELECT person_id FROM people"))
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"
                                         " AND name NOT LIKE 'sqlite_%'")]
    with transaction(conn):
        for table in tables:
            if table in ("people", "schema_migrations", "erased_ids", "privacy_salt"):
                continue
            cols = [c[1] for c in conn.execute(f"PRAGMA table_info({table})")]
            where = ""
            params: tuple = ()
            if table == "consent_history":  # other people's names in their own history stay theirs
                where, params = " WHERE person_id = ?", (person_id,)
            for row in conn.execute(f"SELECT rowid AS _rid, * FROM {table}{where}", params).fetchall():
                for col in cols:
                    value = row[col]
                    if col in ID_COLUMNS or not isinstance(value, str) or not pattern.search(value):
                        continue
                    new = scrub_text(value, pattern, ids=ids)
                    if new != value:
                        conn.execute(f"UPDATE {table} SET {col}=? WHERE rowid=?", (new, row["_rid"]))
                        changed += 1
    return changed


# ---------------------------------------------------------------- files

def _scrub_files(ws, person_id: str, theirs: dict[int, list], pattern, result: ForgetResult) -> None:
    root = ws.root
    for job_id in list(theirs):  # copies of the same photo received again (duplicates) show them too
        for (dup,) in ws.db.execute("SELECT d.id FROM jobs d JOIN jobs j ON j.sha256 = d.sha256 AND j.id = ?"
                                    " WHERE d.id != j.id", (job_id,)).fetchall():
            theirs.setdefault(dup, theirs[job_id])
    for job_id in sorted(theirs):
        job = ws.db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        if job is not None and job["original_path"] and (root / job["original_path"]).is_file():
            if not _rewrite_original(ws, job, theirs[job_id], result):
                (root / job["original_path"]).unlink()  # changed or unreadable: it cannot stay with their face
                result.files_deleted.append(job["original_path"])
    by_path = {r["original_path"]: r for r in ws.db.execute(
        "SELECT * FROM jobs WHERE original_path IS NOT NULL").fetchall()}
    for path in _workspace_files(root):
        rel = str(path.relative_to(root))
        sub = path.relative_to(root).parts[0]
        if path.suffix.lower() in TEXT_SUFFIXES:
            text = path.read_text("utf-8", errors="replace")
            new = scrub_text(text, pattern)
            if new != text:
                write_atomic(path, new.encode("utf-8"), mode=path.stat().st_mode & 0o777)
                result.files_scrubbed.append(rel)
        elif sub in ("originals", "quarantine"):
            data = path.read_bytes()
            if bytes_name(data, pattern):
                job = by_path.get(rel)
                if job is not None and sub == "originals" and _rewrite_original(ws, job, [], result):
                    path = root / ws.db.execute("SELECT original_path FROM jobs WHERE id=?",
                                                (job["id"],)).fetchone()[0]
                else:
                    path.unlink()
                    result.files_deleted.append(rel)
                    continue
        if pattern is not None and pattern.search(path.name):
            _rename(ws, path, pattern, result)
    _scrub_inbox(ws, theirs, pattern, result)
    _redraw_previews(ws, theirs)


def _scrub_inbox(ws, theirs: dict[int, list], pattern, result: ForgetResult) -> None:
    """Copies left in the inbox of photos already processed (``pipeline process inbox/`` copies, it
    does not move) that show them or carry their name go; so does their name in caption files there.
    Photos not processed yet are left alone: they will be decided with them forgotten."""
    import hashlib

    inbox = ws.root / "inbox"
    if not inbox.is_dir():
        return
    done: dict[str, set[int]] = {}
    for sha, job_id in ws.db.execute("SELECT sha256, id FROM jobs WHERE state='done' AND sha256 IS NOT NULL"):
        done.setdefault(sha, set()).add(job_id)
    for dirpath, _dirs, files in os.walk(inbox, followlinks=False):
        for f in files:
            path = Path(dirpath) / f
            if path.is_symlink() or not path.is_file():
                continue
            rel = str(path.relative_to(ws.root))
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if path.suffix.lower() in TEXT_SUFFIXES:
                text = data.decode("utf-8", errors="replace")
                new = scrub_text(text, pattern)
                if new != text:
                    write_atomic(path, new.encode("utf-8"), mode=path.stat().st_mode & 0o777)
                    result.files_scrubbed.append(rel)
                continue
            ids = done.get(hashlib.sha256(data).hexdigest(), set())
            if ids and (ids & set(theirs) or bytes_name(data, pattern)):
                path.unlink()
                result.files_deleted.append(rel)


SKIP_TOP = {"inbox", "pipeline.db", "pipeline.db-wal", "pipeline.db-shm", "pipeline.toml"}


def _workspace_files(root: Path) -> list[Path]:
    """Every regular file of the workspace (links not followed), but the database, the configuration
    and the inbox (staff's drops not taken in yet)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        if here == root:
            dirnames[:] = [d for d in dirnames if d not in SKIP_TOP]
            filenames = [f for f in filenames if f not in SKIP_TOP]
        for f in filenames:
            p = here / f
            if p.is_file() and not p.is_symlink():
                out.append(p)
    return sorted(out)


def _rename(ws, path: Path, pattern, result: ForgetResult) -> None:
    new = path.with_name(scrub_text(path.name, pattern, FILE_REMOVED))
    n = 1
    while new.exists():
        new = path.with_name(f"{n}_" + scrub_text(path.name, pattern, FILE_REMOVED))
        n += 1
    os.rename(path, new)
    old_rel, new_rel = str(path.relative_to(ws.root)), str(new.relative_to(ws.root))
    with transaction(ws.db):
        ws.db.execute("UPDATE jobs SET original_path=? WHERE original_path=?", (new_rel, old_rel))
    result.files_renamed.append(new_rel)


def _rewrite_original(ws, job, boxes: list, result: ForgetResult) -> bool:
    """Replace a kept original by a pixels-only PNG with ``boxes`` redacted; False if it is not an image."""
    from pipeline.consent_changes.rerender import OriginalMissing, decode_original, original_bytes

    path = ws.root / job["original_path"]
    try:
        image = decode_original(ws, job, original_bytes(ws, job))
    except (OriginalMissing, OSError):  # gone, changed under us, or not an image: not ours to rewrite
        return False
    if boxes:
        red = ws.config["redaction"]
        image = redact(image.convert("RGB"), list(boxes), style=red["style"], padding=red["padding"])
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG", compress_level=1)  # lossless; level 1 is ~10x faster
    data = buf.getvalue()
    import hashlib

    sha = hashlib.sha256(data).hexdigest()
    dest = path.with_suffix(".png")
    write_atomic(dest, data, mode=0o600)
    if dest != path:
        path.unlink(missing_ok=True)
    rel = str(dest.relative_to(ws.root))
    with transaction(ws.db):
        ws.db.execute("UPDATE jobs SET original_path=?, original_sha256=? WHERE id=?", (rel, sha, job["id"]))
        record_event(ws.db, "original.rewritten", "pipeline", None,
                     {"job_id": job["id"], "why": "consent forget", "sha256": sha, "at": now_iso()})
    if rel not in result.originals_rewritten:
        result.originals_rewritten.append(rel)
    return True


def _redraw_previews(ws, theirs: dict[int, list]) -> None:
    """Held photos in which they appeared: the private preview is drawn again from the rewritten original."""
    from pipeline.consent_changes.rerender import OriginalMissing, decode_original, load_faces, original_bytes
    from pipeline.render import render_preview
    from pipeline.text_in_picture import stored_texts

    for job_id in sorted(theirs):
        job = ws.db.execute("SELECT * FROM jobs WHERE id=? AND status='review'", (job_id,)).fetchone()
        if job is None:
            continue
        try:
            image = decode_original(ws, job, original_bytes(ws, job))
        except OriginalMissing:
            (ws.root / f"review/{job_id}.jpg").unlink(missing_ok=True)
            continue
        faces = load_faces(ws.db, job_id)
        for f in faces:
            if tuple(f["box"]) in {tuple(b) for b in theirs[job_id]}:
                f["decisions"] = {c: "blur" for c in ws.config.channels}
        render_preview(ws, image, faces, job_id, texts=stored_texts(job))
