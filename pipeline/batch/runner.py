"""`pipeline process` over many photos: the coordinator here, the per-photo work on workers.

Coordinator (this process, the only one that writes files or the database):
    read + hash -> ``process.receive`` (job row, original kept) -> submit -> ``process.complete``
    (outputs written atomically, job recorded), in input order, with at most ``window`` photos in
    flight, so memory stays flat however long the batch.
Worker (``analyse_task``, in a local process or on a Dask worker):
    decode (once, draft-scaled), metadata, find and encode faces (once per image), match, decide,
    and encode each channel's JPEG in memory (channels redacting the same faces share one
    encoding); the pixels never leave the worker, only the analysis and the JPEG bytes come back.

The same content twice in one batch is analysed once: the second copy waits for the first and is
then recorded as its duplicate, as in a one-by-one run. If the register changes while a photo is
being analysed (a consent withdrawn mid-batch), the coordinator re-decides its faces before
recording it and sends it back to a worker when the decisions differ, so nothing is released on
a stale register.
"""
from __future__ import annotations

import hashlib
import logging
from collections import deque
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from processors.video.probe import is_clip

log = logging.getLogger(__name__)

MAX_RESUBMITS = 3
MAX_HELD_BYTES = 256 * 1024 * 1024


# --------------------------------------------------------------------------- worker side

@dataclass(frozen=True)
class WorkspaceSource:
    """Local workers read the register themselves from the workspace database (WAL, read-only use)."""

    root: str


class ConfigOnly:
    """Stands in for a Workspace inside a register snapshot: configuration, no files, no database."""

    def __init__(self, config):
        self.config = config


_contexts: dict = {}
_setup_done = False


_inherited: list = []


def forget_contexts() -> None:
    """In a worker forked from a process that had cached contexts: stop using them (their database
    connections belong to that process). They are kept referenced, never closed: closing a copy of
    a connection in the child could checkpoint or unlock the parent's database."""
    global _setup_done
    _inherited.extend(_contexts.values())
    _contexts.clear()
    _setup_done = False


def _context(source):
    """The RunContext for a task: from the workspace (refreshed if the register changed) or a snapshot."""
    if isinstance(source, WorkspaceSource):
        cached = _contexts.get(source.root)
        if cached is None:
            from pipeline.context import RunContext
            from pipeline.workspace import open_workspace

            cached = _contexts[source.root] = RunContext(open_workspace(source.root))
        return cached.refresh()
    return source  # a snapshot RunContext (Dask): already complete


def analyse_task(data: bytes, name: str, source) -> dict:
    """Analyse one photo and render what it needs, in memory. Never raises for a bad photo."""
    global _setup_done
    if not _setup_done:  # Dask workers: the local pool's initializer already did this
        from pipeline.batch.executor import worker_setup

        worker_setup(single_threaded=True, warm=False)
        _setup_done = True
    from pipeline.analyse import analyse
    from pipeline.render import encode_channels, encode_preview

    ctx = _context(source)
    result = analyse(data, name=name, ctx=ctx)
    rendered = None
    if result.status == "released":
        rendered = {"channels": encode_channels(ctx.ws.config, result.image, result.faces_on_image(), ctx.channels,
                                                texts=result.texts_on_image())}
    elif result.status == "review":
        rendered = {"preview": encode_preview(ctx.ws.config, result.image, result.faces_on_image(),
                                              texts=result.texts_on_image())}
    result.image = None  # the pixels stay on the worker
    return {"analysis": result, "rendered": rendered, "fingerprint": ctx._fingerprint}


def snapshot(ctx):
    """A picklable copy of what analysis needs from the register (for workers that share nothing)."""
    from pipeline.context import RunContext

    ctx.refresh()
    return RunContext(ConfigOnly(ctx.ws.config), people=ctx.people, gallery=ctx.gallery, named=ctx.named,
                      calibration=ctx.calibration,
                      _fingerprint=ctx._fingerprint)


# --------------------------------------------------------------------------- coordinator side

@dataclass
class _Item:
    path: Path
    move: bool
    data: bytes | None = None
    sha: str | None = None
    received: object = None        # process.Received
    record: dict | None = None     # final record known without a worker
    future: Future | None = None
    waits_for_twin: bool = False   # same content as a photo still in flight
    resubmits: int = 0
    generation: int = 0            # which pool the future belongs to


class Batch:
    """Process ``paths`` with ``executor``; ``run()`` yields one JSON record per input, in order."""

    def __init__(self, ws, executor, *, caption: str | None = None, inbox: Path | None = None,
                 window: int | None = None, roots: list[Path] | None = None, clip_progress=None):
        from pipeline.context import RunContext

        self.ws = ws
        self.executor = executor
        self.caption = caption
        self.inbox = inbox
        self.roots = [Path(r) for r in roots or []]
        self.window = window or max(2, executor.workers * 3)
        # bytes of photos held here while in flight (kept until recorded, in case one must be sent
        # again): a window of 200 MB files would otherwise hold gigabytes (issue 16)
        self.max_held_bytes = MAX_HELD_BYTES
        # Video clips are processed here, in the coordinator, as they come (their frames spread over the
        # cores through the detector's and encoder's own threads); ``clip_progress(name)`` gives each
        # one a ``progress(phase, frames_done, frames_total)`` callback.
        self.clip_progress = clip_progress
        self.ctx = RunContext(ws).refresh()
        self._source = None
        self._source_fp = None

    def source(self):
        """What tasks get to build their RunContext: the workspace path locally, a snapshot on Dask."""
        if self.executor.kind == "inline":
            return self.ctx.refresh()  # same process: the coordinator's own context
        if self.executor.reads_files:
            return WorkspaceSource(str(Path(self.ws.root).resolve()))
        self.ctx.refresh()
        if self._source is None or self._source_fp != self.ctx._fingerprint:
            self._source = self.executor.share(snapshot(self.ctx))
            self._source_fp = self.ctx._fingerprint
        return self._source

    def run(self, inputs: list[Path]):
        window: deque[_Item] = deque()
        inflight: dict[str, _Item] = {}
        for path in inputs:
            window.append(self._start(_Item(Path(path), self._moves(Path(path))), inflight))
            while window and (window[0].future is None or window[0].future.done() or len(window) > self.window
                              or _held_bytes(window) > self.max_held_bytes):
                yield self._finish(window.popleft(), inflight, window)
        while window:
            yield self._finish(window.popleft(), inflight, window)

    # ----------------------------------------------------------------- per photo

    def _moves(self, path: Path) -> bool:
        if self.inbox is None:
            return False
        try:
            path.absolute().parent.resolve().relative_to(self.inbox)
            return True
        except ValueError:
            return False

    def _start(self, item: _Item, inflight: dict) -> _Item:
        from pipeline.batch.inputs import root_for
        from pipeline.process import read_input, receive

        root = root_for(item.path, self.roots)
        item.data = read_input(self.ws, item.path, root)
        if item.data is None:  # refused by the gate or unreadable: receive() records why, without a worker
            item.record = receive(self.ws, item.path, caption=self.caption, move=item.move, root=root)
            return item
        item.sha = hashlib.sha256(item.data).hexdigest()
        if item.sha in inflight:
            item.waits_for_twin = True  # received after its twin is recorded: then a duplicate
            return item
        got = receive(self.ws, item.path, caption=self.caption, move=item.move, data=item.data)
        item.data = None
        if isinstance(got, dict):
            item.record = got
            return item
        item.received = got
        if is_clip(got.data):
            from pipeline.process import process_clip

            progress = self.clip_progress(got.name) if self.clip_progress else None
            item.record = process_clip(self.ws, self.ctx.refresh(), got, progress=progress)
            item.received = None
            return item
        inflight[item.sha] = item
        self._submit(item)
        return item

    def _submit(self, item: _Item) -> None:
        got = item.received  # keeps the bytes until the photo is recorded, in case it must be sent again
        item.generation = getattr(self.executor, "generation", 0)
        item.future = self.executor.submit(analyse_task, got.data, got.name, self.source())

    def _finish(self, item: _Item, inflight: dict, window: deque) -> dict:
        from pipeline.process import receive

        if item.waits_for_twin:
            got = receive(self.ws, item.path, caption=self.caption, move=item.move, data=item.data)
            item.data = None
            if isinstance(got, dict):
                return got
            item.received = got  # its twin did not finish (e.g. was resumed under another name): analyse it
            item.waits_for_twin = False
            self._submit(item)
        if item.record is not None:
            return item.record
        try:
            while True:
                out = self._result(item, window)
                if self._still_current(out) or item.resubmits >= MAX_RESUBMITS:
                    break
                item.resubmits += 1  # the register changed meanwhile and so would the decisions
                self._submit(item)
            return self._complete(item, out)
        finally:
            if inflight.get(item.sha) is item:
                del inflight[item.sha]

    def _result(self, item: _Item, window: deque) -> dict:
        try:
            return item.future.result()
        except BrokenProcessPool:
            # A worker died (a file crashed a decoder or dlib) and took the pool's other tasks with
            # it. The first photo to notice starts a fresh pool; each affected photo is sent again
            # once when its turn comes; one that breaks a pool twice is rejected (fail safe).
            if item.generation == getattr(self.executor, "generation", 0):
                self.executor.restart()
            item.resubmits += 1
            if item.resubmits > 1:
                return {"crashed": True}
            self._submit(item)
            return self._result(item, window)
        except Exception as exc:  # fail safe: a photo we could not check is never released
            if getattr(self.executor, "kind", "") == "dask" and item.resubmits == 0:
                # Workers died while this photo was on them (Dask's KilledWorker): it may be the culprit
                # or a bystander queued on the same worker. Sent once more; failing again, it is rejected.
                item.resubmits += 1
                self._submit(item)
                return self._result(item, window)
            log.exception("analysis failed for %s", item.path)
            return {"crashed": True, "error": f"{type(exc).__name__}: {exc}"}

    def _still_current(self, out: dict) -> bool:
        """True when the worker decided on today's register (or its decisions would not change)."""
        if out.get("crashed"):
            return True
        self.ctx.refresh()
        if out["fingerprint"] == self.ctx._fingerprint:
            return True
        from pipeline.analyse import decide_faces

        analysis = out["analysis"]
        faces = [dict(f) for f in analysis.faces]
        decide_faces(faces, self.ctx)
        same = all(a["decisions"] == b["decisions"] and a.get("person") == b.get("person")
                   for a, b in zip(faces, analysis.faces))
        if same:
            out["fingerprint"] = self.ctx._fingerprint
        return same

    def _complete(self, item: _Item, out: dict) -> dict:
        from pipeline.analyse import Analysis
        from pipeline.process import complete

        if out.get("crashed"):
            detail = out.get("error") or "the photo checker stopped working on this file"
            analysis = Analysis("rejected", f"Rejected: the photo could not be checked for faces ({detail}); "
                                            "it was kept in quarantine — please report this.")
            return complete(self.ws, self.ctx, item.received, analysis)
        return complete(self.ws, self.ctx, item.received, out["analysis"], out["rendered"])


def _held_bytes(window) -> int:
    """Bytes of input the coordinator holds for the photos in ``window``."""
    total = 0
    for item in window:
        if item.data is not None:
            total += len(item.data)
        if item.received is not None and getattr(item.received, "data", None) is not None:
            total += len(item.received.data)
    return total


def _broken(fut: Future) -> bool:
    return fut.cancelled() or isinstance(fut.exception(), BrokenProcessPool)
