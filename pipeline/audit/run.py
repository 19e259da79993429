"""`pipeline audit`: does an archive show a child without consent, carry GPS, or name a pupil in full?

Read-only: files are only ever opened for reading (``pipeline.audit.files``); nothing is
written into the audited folders. For each file the audit reports *findings* (DESIGN.md):

=====================  ==============================================================
gps, exif, xmp, iptc,  metadata blocks in the file (``processors.metadata``)
thumbnail
full_name_in_filename  a register person's full name in the file or folder name
full_name_in_picture   … (or a pupil's family name) in text read in the picture, with its box
full_name_in_metadata  … in embedded text (EXIF/IPTC/XMP descriptions, keywords,
                       PersonInImage, face-region names) or in a text file's content
face_refused,          a face identified as a person whose consent on the channel is
face_withdrawn,        refused / withdrawn / expired
face_expired
face_never_publish     identified or possibly identified as a never-publish person
face_uncertain         possibly someone in the register, not identified
face_unknown           nobody in the register, or too small to recognise
not_checked            the file was not checked (a link, not a regular file, unreadable,
                       too large, could not be decoded), with why: never reported as clean
=====================  ==============================================================

Every finding names its channel (one finding per audited channel), and face findings
carry the face box and the person. Names are found by ``processors.names`` and faces
are decided by ``consent.policy.decide_face`` — the same code as the release path.

How it runs: the coordinator (this process) walks the folders, hashes each file and
looks the hash up in the cache (``pipeline.audit.cache``). Cache misses are analysed by
workers (``pipeline.audit.worker``: decode, metadata, find and encode faces) — worker
processes on this computer, or a Dask cluster's workers, which get the file's bytes and
share nothing else (``pipeline.audit.pool``); at most a few files per worker are in
flight, so memory stays flat however large the archive. Matching and decisions happen
here, from the (cached) encodings, so an audit after a consent change touches no pixels;
only this process writes (the cache, in the workspace database).
"""
from __future__ import annotations

import logging
import os
import time
import urllib.parse
from collections import Counter, deque
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import PurePath

from consent.policy import decide_face
from pipeline.audit.agreement import position_words, reviewer_identities
from pipeline.audit.cache import AuditCache
from pipeline.audit.files import Entry, hash_file, is_within, read_bytes, walk, why_unreadable
from pipeline.audit.pool import make_audit_executor, slots, submit
from pipeline.audit.worker import settings_for
from pipeline.context import RunContext
from pipeline.batch.executor import LocalExecutor
from pipeline.jobs import encoding_from_blob
from processors.face_encode import box_size
from processors.gate import display
from processors.names import find_full_names

METADATA_KINDS = ("gps", "exif", "xmp", "iptc", "thumbnail")
NAME_KINDS = ("full_name_in_filename", "full_name_in_metadata", "full_name_in_picture")
FACE_KINDS = ("face_never_publish", "face_refused", "face_withdrawn", "face_expired", "face_uncertain",
              "face_unknown")
KINDS = ("not_checked",) + METADATA_KINDS + NAME_KINDS + FACE_KINDS

METADATA_DETAIL = {
    "gps": "the photo's location (GPS coordinates)",
    "exif": "an EXIF block (camera data)",
    "xmp": "an XMP block (editing and description data)",
    "iptc": "IPTC data (captions, keywords, credits)",
    "thumbnail": "an embedded preview picture (it can show the unedited original)",
}
EXIF_EXTRAS = {"maker_notes": "maker notes", "camera_serial": "camera serial number", "owner": "owner or artist",
               "date_taken": "date taken"}

TEXT_LIMIT = 2 * 1024 * 1024        # bytes of a text file searched for names
TEXT_KINDS = ("a text file", "a web page (HTML)")
CRASHED = ("the photo checker stopped working on this file (the file may be damaged in a way that crashes "
           "the decoder); open it by hand")

log = logging.getLogger(__name__)


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class FileReport:
    """The audit of one file; ``to_json`` is the record of ``--format json``."""

    path: str
    sha256: str | None = None
    size: int | None = None
    checked: bool = False           # a photo whose pixels were checked for faces
    error: str | None = None        # why a photo (or a file) could not be checked
    note: str | None = None         # e.g. "not a photo (looks like a text file)"
    findings: list[dict] = field(default_factory=list)
    faces: list[dict] = field(default_factory=list)
    metadata_found: list[str] = field(default_factory=list)
    format: str | None = None
    width: int | None = None
    height: int | None = None
    from_cache: bool = False

    @property
    def ok(self) -> bool:
        """No finding, and nothing that should have been checked was left unchecked."""
        return not self.findings and self.error is None

    def to_json(self) -> dict:
        # ``path`` is the display form (a name that is not UTF-8 shows its bytes as \\xe9); ``_fs`` is
        # the real name, hex-encoded, for the report writers that open the file again (thumbnails).
        return {"path": display(self.path), "_fs": os.fsencode(self.path).hex(), "ok": self.ok, "findings": self.findings, "checked": self.checked,
                "error": self.error, "note": self.note, "sha256": self.sha256, "size": self.size,
                "format": self.format, "width": self.width, "height": self.height, "faces": self.faces,
                "metadata_found": self.metadata_found, "from_cache": self.from_cache}


@dataclass
class Summary:
    channels: list[str]
    files: int = 0
    photos_checked: int = 0
    with_findings: int = 0
    not_checked: int = 0
    not_photos: int = 0
    not_ok: int = 0
    from_cache: int = 0
    files_by_kind: Counter = field(default_factory=Counter)
    findings_by_kind: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def add(self, r: dict) -> None:
        """Count one ``FileReport.to_json()`` record."""
        self.files += 1
        self.photos_checked += bool(r["checked"])
        self.with_findings += bool(r["findings"])
        self.not_checked += r["error"] is not None
        self.not_photos += r["note"] is not None and r["error"] is None and not r["checked"]
        self.not_ok += not r["ok"]
        self.from_cache += bool(r["from_cache"])
        kinds = [f["kind"] for f in r["findings"]]
        # one finding per file, kind and subject (a face, a person, a text), whatever the channels
        self.findings_by_kind.update(k[0] for k in {
            (f["kind"], f.get("face"), f.get("person"), f.get("source"), f.get("text")) for f in r["findings"]})
        self.files_by_kind.update(set(kinds))

    def to_json(self) -> dict:
        return {"files": self.files, "photos_checked": self.photos_checked, "files_with_findings": self.with_findings,
                "files_not_checked": self.not_checked, "not_photos": self.not_photos, "files_not_ok": self.not_ok,
                "from_cache": self.from_cache, "channels": self.channels,
                "files_by_kind": {k: self.files_by_kind[k] for k in KINDS if self.files_by_kind[k]},
                "findings_by_kind": {k: self.findings_by_kind[k] for k in KINDS if self.findings_by_kind[k]},
                "seconds": round(self.seconds, 2)}


# --------------------------------------------------------------------------- findings

def per_channel(channels: list[str], kind: str, **detail) -> list[dict]:
    """One finding of ``kind`` for each channel (metadata and names are a problem on every channel)."""
    return [{"kind": kind, "channel": c, **detail} for c in channels]


def not_checked_findings(why: str, channels: list[str]) -> list[dict]:
    """A file the audit could not check is never clean: a ``not_checked`` finding on every channel."""
    return per_channel(channels, "not_checked", detail=why)


def metadata_findings(found: list[str], channels: list[str]) -> list[dict]:
    out = []
    for kind in METADATA_KINDS:
        if kind not in found:
            continue
        detail = METADATA_DETAIL[kind]
        if kind == "exif":
            extras = [EXIF_EXTRAS[k] for k in EXIF_EXTRAS if k in found]
            if extras:
                detail += " with " + ", ".join(extras)
        if kind == "xmp" and "xmp_person_names" in found:
            detail += " naming people in the photo"
        out += per_channel(channels, kind, detail=detail)
    return out


def filename_texts(rel: str) -> list[tuple[str, str]]:
    """``(where, text)`` for every part of a relative path (web escapes such as ``%20`` undone).

    The name engine reads identifiers itself ("BarackObama", "amelia_hart-sports_day", "a.hart"),
    so a file name and a caption with the same text get the same answer.
    """
    parts = PurePath(rel).parts
    out = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        stem = part.rsplit(".", 1)[0] if last and "." in part.strip(".") else part
        out.append(("file name" if last else "folder name", urllib.parse.unquote(stem)))
    return out


def name_hits(texts: list[tuple[str, str]], ctx) -> list[tuple[str, object]]:
    """``(source, NameHit)`` for every full name of a register person in ``texts``; one per person and source."""
    seen, out = set(), []
    for source, text in texts:
        if not text:
            continue
        for hit in find_full_names(text, ctx.named):
            if (source, hit.person_id) in seen:
                continue
            seen.add((source, hit.person_id))
            out.append((source, hit))
    return out


def name_findings(kind: str, texts: list[tuple[str, str]], ctx, channels: list[str]) -> list[dict]:
    out = []
    for source, hit in name_hits(texts, ctx):
        out += per_channel(channels, kind, person=hit.person_id, name=_name(ctx, hit.person_id), text=hit.text,
                           source=source)
    return out


def picture_name_findings(lines: list[dict], ctx, channels: list[str]) -> list[dict]:
    """``full_name_in_picture``: a register person's full name (or a pupil's family name) in the
    text read in the picture, with its box; the finding names the person by id, never the text read."""
    from pipeline.text_in_picture import picture_regions

    out = []
    for region in picture_regions(lines, ctx):
        if region["kind"] not in ("full", "family"):
            continue   # (the area beside a lone given name, redacted in case its family name is there)
        detail = "full name in the picture" if region["kind"] == "full" else "a pupil's family name in the picture"
        out += per_channel(channels, "full_name_in_picture", box=region["box"], person=region["why"],
                           detail=detail)
    return out


def metadata_texts(metadata: dict) -> list[tuple[str, str]]:
    texts = list(metadata.get("texts", {}).items())
    texts += [("xmp:PersonInImage/face regions", n) for n in metadata.get("person_names", [])]
    return texts


def face_kind(match: str, decision: str, reason: str) -> str:
    if decision == "block" or reason == "never publish":
        return "face_never_publish"
    if reason in ("refused", "withdrawn", "expired"):
        return f"face_{reason}"
    if match == "uncertain" or reason == "uncertain match":
        return "face_uncertain"
    return "face_unknown"


REASON_TEXT = {
    "face_never_publish": "must never be published (identified or possibly them)",
    "face_refused": "consent refused",
    "face_withdrawn": "consent withdrawn",
    "face_expired": "consent expired",
    "face_uncertain": "possibly {name}; not identified",
    "face_unknown": "not anyone in the register",
}


def face_findings(faces: list[dict], ctx, channels: list[str], *, size: tuple[int, int] | None = None,
                  confirmed: dict[int, str] | None = None) -> tuple[list[dict], list[dict]]:
    """Match each face (from its stored encoding) and decide it per channel, as the release path does.

    ``confirmed``: faces a reviewer confirmed in the pipeline's own job for this file
    (``pipeline.audit.agreement``), decided as that person. ``size``: the picture's size, for the
    face's position in words. Returns ``(faces, findings)``: a record per face and a finding per face
    and channel where the face would not be kept.
    """
    unknown_action = ctx.ws.config["faces"]["unknown"]
    uncertain_action = ctx.ws.config["faces"].get("uncertain", "redact")
    tolerances = ctx.tolerances
    today = ctx.today()
    records, findings = [], []
    for i, face in enumerate(faces):
        encoding = encoding_from_blob(face.get("encoding"))
        m = ctx.gallery.match(encoding, tolerances, box_size(face["box"]))
        who_confirmed = (confirmed or {}).get(i)
        fd = decide_face(m, ctx.people, channels, today, unknown_action=unknown_action,
                         uncertain_action=uncertain_action, confirmed=who_confirmed)
        box = [int(v) for v in face["box"]]
        person = who_confirmed or m.person_id
        record = {"index": i, "box": box, "match": m.match, "person": person, "name": _name(ctx, person),
                  "position": position_words(box, size), "confirmed_on_review": who_confirmed is not None,
                  "distance": None if m.distance is None else round(float(m.distance), 4),
                  "too_small": encoding is None, "candidates": [[p, round(float(d), 4)] for p, d in m.candidates],
                  "findings": {}}
        never = [p for p in [person, *(p for p, _ in m.candidates)] if p in ctx.people and ctx.people[p].never_publish]
        for channel in channels:
            decision, reason = fd.decisions[channel], fd.reasons[channel]
            if decision == "keep":
                continue
            kind = face_kind(m.match, decision, reason)
            who = never[0] if kind == "face_never_publish" and never else person
            detail = REASON_TEXT[kind].format(channel=channel, name=_name(ctx, who) or who)
            if kind == "face_unknown" and encoding is None:
                detail = "too small to recognise"
            record["findings"][channel] = kind
            findings.append({"kind": kind, "channel": channel, "face": i, "box": box, "position": record["position"],
                             "person": who,
                             "name": _name(ctx, who), "match": m.match, "distance": record["distance"],
                             "detail": detail})
        records.append(record)
    return records, findings


def _name(ctx, person_id: str | None) -> str | None:
    if person_id is None:
        return None
    person = ctx.people.get(person_id)
    return person.display_name if person is not None else None


# --------------------------------------------------------------------------- the run

@dataclass
class _Item:
    entry: Entry
    sha: str | None = None
    size: int | None = None
    report: FileReport | None = None     # known without a worker
    result: dict | None = None            # analysis (cached or from a worker)
    future: Future | None = None
    from_cache: bool = False
    retried: bool = False

    def ready(self) -> bool:
        return self.future is None or self.future.done()


class Auditor:
    """Audits folders and files against the register and yields one :class:`FileReport` per file.

    ``Auditor(ws, channels).run(paths, advance)`` — ``advance()`` is called once per file (progress bar).
    ``executor`` (``pipeline.audit.pool.make_audit_executor``) is where files are analysed; by default
    a local pool of ``workers`` processes, closed at the end of each run. A given executor is the
    caller's to close.
    """

    def __init__(self, ws, channels: list[str] | None = None, *, workers: int | None = None, executor=None,
                 follow_links: bool = False):
        self.ws = ws
        self.channels = list(channels or ws.config.channels)
        self.ctx = RunContext(ws).refresh()
        self.follow_links = follow_links
        self.settings = settings_for(ws.config)
        self.settings["follow_links"] = follow_links
        self._own_executor = executor is None
        self.executor = executor or make_audit_executor("local", workers=workers or available_cores())
        self.workers = slots(self.executor)
        self.window_size = self.workers * 3
        self.analysed = 0
        self._window: deque[_Item] = deque()
        self._inflight: dict[str, Future] = {}

    # ----------------------------------------------------------------- public

    def run(self, paths: list[str], advance=lambda n=1: None):
        roots = [str(p) for p in paths]
        persistent = not any(is_within(self.ws.db_path, r) for r in roots if os.path.isdir(r))
        self.cache = AuditCache(self.ws.db, self.settings, persistent=persistent)
        inflight = self._inflight
        window = self._window
        try:
            for entry in walk(roots, self.follow_links):
                window.append(self._start(entry, inflight))
                while window and (window[0].ready() or len(window) > self.window_size):
                    yield self._finish(window.popleft(), inflight)
                    advance()
            while window:
                yield self._finish(window.popleft(), inflight)
                advance()
        finally:
            window.clear()
            inflight.clear()
            self.cache.close()
            if self._own_executor:
                self.executor.close()

    # ----------------------------------------------------------------- per file

    def _start(self, entry: Entry, inflight: dict) -> _Item:
        item = _Item(entry)
        if entry.kind == "loop":
            item.report = self._other(entry, note=entry.note)
            return item
        if entry.kind in ("symlink", "special", "unreadable"):
            item.report = self._other(entry, error=entry.note)
            return item
        try:
            item.sha, item.size, head = hash_file(entry.path, entry.root, self.follow_links,
                                                  limit=self.settings["max_bytes"])
        except OSError as exc:
            item.report = self._other(entry, error=why_unreadable(exc))
            return item
        from processors.decode import sniff
        from processors.video.probe import is_clip

        if is_clip(head):
            item.report = self._clip(entry, item)
            return item
        kind, what = sniff(head)
        if kind == "other" or what == "an SVG drawing":
            item.report = self._not_a_photo(entry, item, what)
            return item
        if item.sha is None:  # over the size limit: only its head is read (metadata), never cached
            item.future = self._submit(item)
            return item
        cached = self.cache.get(item.sha)
        if cached is not None:
            item.result, item.from_cache = cached, True
        elif item.sha in inflight:            # the same content twice in the archive: analysed once
            item.future = inflight[item.sha]
        else:
            item.future = inflight[item.sha] = self._submit(item)
        return item

    def _finish(self, item: _Item, inflight: dict) -> FileReport:
        if item.report is not None:
            return item.report
        if item.future is not None:
            item.result = self._result(item)
            if inflight.get(item.sha) is item.future:
                del inflight[item.sha]
            self.cache.put(item.result)
        return self._photo(item)

    def _photo(self, item: _Item) -> FileReport:
        res, entry = item.result, item.entry
        md = res["metadata"]
        r = FileReport(path=entry.path, sha256=res["sha256"] or item.sha, size=item.size,
                       checked=res["outcome"] == "checked", error=res["error"],
                       metadata_found=list(md.get("found", [])), format=res["format"], width=res["width"],
                       height=res["height"], from_cache=item.from_cache)
        r.findings += metadata_findings(r.metadata_found, self.channels)
        r.findings += name_findings("full_name_in_filename", filename_texts(display(entry.rel)), self.ctx,
                                    self.channels)
        r.findings += name_findings("full_name_in_metadata", metadata_texts(md), self.ctx, self.channels)
        size = (res["width"], res["height"]) if res.get("width") and res.get("height") else None
        confirmed = reviewer_identities(self.ws.db, r.sha256, size, res["faces"])
        r.faces, found = face_findings(res["faces"], self.ctx, self.channels, size=size, confirmed=confirmed)
        r.findings += found
        r.findings += picture_name_findings(md.get("picture_texts") or [], self.ctx, self.channels)
        if r.error is not None:
            r.findings = not_checked_findings(r.error, self.channels) + r.findings
        elif "metadata_not_read" in r.metadata_found:  # over the metadata budget: names in it were not searched
            why = next((p for p in md.get("problems", []) if "not read" in p),
                       "some embedded metadata was over the reading budget and was not searched")
            r.findings = not_checked_findings(why.rstrip("."), self.channels) + r.findings
        return r

    def _clip(self, entry: Entry, item: _Item) -> FileReport:
        """A video clip, analysed here frame by frame (``pipeline.video.audit``); face findings carry times."""
        from pipeline.video.audit import audit_clip

        res = audit_clip(entry.path, self.ctx.refresh(), self.channels, face_kind)
        r = FileReport(path=entry.path, sha256=item.sha, size=item.size, checked=res["checked"], error=res["error"],
                       metadata_found=list(res["metadata_found"]), format=res["format"], width=res["width"],
                       height=res["height"])
        r.findings += res["findings"]
        r.findings += name_findings("full_name_in_filename", filename_texts(entry.rel), self.ctx, self.channels)
        r.findings += name_findings("full_name_in_metadata", res["texts"], self.ctx, self.channels)
        r.faces = res["faces"]
        return r

    def _other(self, entry: Entry, *, note: str | None = None, error: str | None = None) -> FileReport:
        r = FileReport(path=entry.path, note=note, error=error)
        if error is not None:
            r.findings += not_checked_findings(error, self.channels)
        r.findings += name_findings("full_name_in_filename", filename_texts(display(entry.rel)), self.ctx,
                                    self.channels)
        return r

    def _not_a_photo(self, entry: Entry, item: _Item, what: str) -> FileReport:
        r = self._other(entry, note=f"not a photo (looks like {what})")
        r.sha256, r.size = item.sha, item.size
        if what in TEXT_KINDS:
            try:
                text = read_bytes(entry.path, TEXT_LIMIT).decode("utf-8", errors="replace")
            except OSError as exc:
                r.error = why_unreadable(exc)
                r.findings = not_checked_findings(r.error, self.channels) + r.findings
                return r
            r.findings += name_findings("full_name_in_metadata", [("text in the file", text)], self.ctx,
                                        self.channels)
            if (item.size or 0) > TEXT_LIMIT:  # the rest of the text was not searched: never "ok"
                r.error = (f"only the first {TEXT_LIMIT // (1024 * 1024)} MB of this "
                           f"{item.size / 1e6:,.0f} MB text file were searched for names")
                r.findings = not_checked_findings(r.error, self.channels) + r.findings
        return r

    # ----------------------------------------------------------------- workers

    def _submit(self, item: _Item) -> Future:
        self.analysed += 1
        return submit(self.executor, item.entry.path, item.sha, item.size, self.settings)

    def _result(self, item: _Item) -> dict:
        try:
            return item.future.result()
        except BrokenProcessPool:
            return self._recover_from_crash(item)
        except Exception as exc:
            # Dask: workers died while this file was on them (KilledWorker) — it may be the culprit or a
            # bystander queued on the same worker — or the cluster went away. Sent once more on its own
            # turn, so a bystander is checked after all; failing twice, it is reported, never cached.
            if not item.retried:
                item.retried = True
                old, item.future = item.future, self._submit(item)
                if self._inflight.get(item.sha) is old:
                    self._inflight[item.sha] = item.future
                return self._result(item)
            log.warning("analysis of %s failed on the cluster: %s", item.entry.path, exc)
            return _crashed(f"{CRASHED} [{type(exc).__name__}: {exc}]")

    def _recover_from_crash(self, item: _Item) -> dict:
        """A local worker died (a file crashed the decoder or dlib). Every file that was in flight is retried
        alone, so only the file that really crashes it is reported; the audit carries on."""
        broken = item.future
        self.executor.restart()
        affected = [item] + [it for it in self._window if it.future is not None and _failed(it.future)]
        retried: dict[int, Future] = {}
        for it in affected:
            key = id(it.future)
            if key not in retried:
                retried[key] = self._alone(it)
            it.future = retried[key]
        for sha, fut in list(self._inflight.items()):
            if id(fut) in retried:
                self._inflight[sha] = retried[id(fut)]
        del broken
        return item.future.result()

    def _alone(self, item: _Item) -> Future:
        done: Future = Future()
        with LocalExecutor(1) as alone:
            try:
                done.set_result(submit(alone, item.entry.path, item.sha, item.size, self.settings).result())
            except BrokenProcessPool:
                done.set_result(_crashed(CRASHED))
        return done


def _crashed(reason: str) -> dict:
    return {"sha256": None, "outcome": "unreadable", "format": None, "width": None, "height": None, "faces": [],
            "cacheable": False, "metadata": {"found": [], "texts": {}, "person_names": []}, "error": reason}


def _failed(fut: Future) -> bool:
    return fut.done() and (fut.cancelled() or isinstance(fut.exception(), BrokenProcessPool))


def audit(ws, paths: list[str], channels: list[str] | None = None, *, workers: int | None = None, executor=None,
          advance=lambda n=1: None, follow_links: bool = False):
    """Yield ``(FileReport, Summary)`` pairs as files are audited; the Summary is cumulative."""
    auditor = Auditor(ws, channels, workers=workers, executor=executor, follow_links=follow_links)
    summary = Summary(auditor.channels)
    started = time.monotonic()
    for report in auditor.run(paths, advance):
        record = report.to_json()
        summary.add(record)
        summary.seconds = time.monotonic() - started
        yield report, summary
