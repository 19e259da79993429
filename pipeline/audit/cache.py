"""The audit cache: what the expensive analysis found in a file, keyed by the file's content hash.

One row per distinct content (``audit_cache``): face boxes and encodings, the metadata
inspection, the size, and the outcome (``checked`` or ``unreadable`` with the reason).
``analysis`` records the settings the faces were found with; a row made with other
settings (another detector, other limits, an older analysis version) is a miss and is
replaced. Matching against the register is never cached: it is redone on every audit
from the stored encodings, so a consent change shows at once without decoding anything.

Writes are buffered and committed in batches by the coordinating process only.
When the workspace database lies inside an audited folder, the cache is kept in
memory for the run instead, so the audit writes nothing into the audited tree.
"""
from __future__ import annotations

import base64
import json
import sqlite3

from consent.database import now_iso, transaction

ANALYSIS_VERSION = 3  # 2: draft decoding as in the release path; detector without the HOG second opinion;
# 3: int8 models with 7-bit weights (8-bit ones lost faces on CPUs without VNNI), one box per face in
# the merge, float upright pass on small images: archives audited before are analysed again
BATCH = 64


def analysis_key(settings: dict) -> str:
    """Everything that changes what the worker would find in the same bytes."""
    faces = settings["faces"]
    return json.dumps({"v": ANALYSIS_VERSION, "detector": faces.get("detector"),
                       "min_size": faces.get("min_recognisable_size"), "max_bytes": settings["max_bytes"],
                       "max_pixels": settings["max_pixels"], "min_long_edge": settings.get("min_long_edge"),
                       "text": settings.get("text")},
                      sort_keys=True)


class AuditCache:
    def __init__(self, conn: sqlite3.Connection, settings: dict, *, persistent: bool = True):
        self.conn = conn
        self.key = analysis_key(settings)
        self.persistent = persistent
        self._pending: dict[str, dict] = {}
        self._memory: dict[str, dict] = {}
        self._used: list[str] = []

    def get(self, sha: str) -> dict | None:
        """The stored analysis of this content, or None (never analysed, or with other settings)."""
        if sha in self._pending:
            return self._pending[sha]
        if not self.persistent:
            return self._memory.get(sha)
        row = self.conn.execute(
            "SELECT faces, metadata, width, height, analysis, outcome, error, format FROM audit_cache WHERE sha256=?",
            (sha,)).fetchone()
        if row is None or row["analysis"] != self.key:
            return None
        self._used.append(sha)
        return {"sha256": sha, "outcome": row["outcome"], "error": row["error"], "format": row["format"],
                "width": row["width"], "height": row["height"], "faces": _faces_from_json(row["faces"]),
                "metadata": json.loads(row["metadata"]), "cacheable": True}

    def put(self, result: dict) -> None:
        if not result.get("cacheable") or not result.get("sha256"):
            return
        if not self.persistent:
            self._memory[result["sha256"]] = result
            return
        self._pending[result["sha256"]] = result
        if len(self._pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.persistent:
            return
        now = now_iso()
        if self._pending:
            rows = [(sha, _faces_to_json(r["faces"]), json.dumps(r["metadata"], ensure_ascii=False), r["width"],
                     r["height"], now, self.key, r["outcome"], r["error"], r["format"], now)
                    for sha, r in self._pending.items()]
            with transaction(self.conn):
                self.conn.executemany(
                    "INSERT OR REPLACE INTO audit_cache(sha256, faces, metadata, width, height, created_at, analysis,"
                    " outcome, error, format, used_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
            self._pending.clear()
        if len(self._used) >= BATCH * 16:
            self._touch(now)

    def close(self) -> None:
        self.flush()
        if self.persistent and self._used:
            self._touch(now_iso())

    def _touch(self, now: str) -> None:
        with transaction(self.conn):
            self.conn.executemany("UPDATE audit_cache SET used_at=? WHERE sha256=?", [(now, s) for s in self._used])
        self._used.clear()


def _faces_to_json(faces: list[dict]) -> str:
    return json.dumps([{"box": list(f["box"]),
                        "encoding": None if f["encoding"] is None else base64.b64encode(f["encoding"]).decode("ascii")}
                       for f in faces])


def _faces_from_json(text: str) -> list[dict]:
    return [{"box": f["box"], "encoding": None if f["encoding"] is None else base64.b64decode(f["encoding"])}
            for f in json.loads(text)]
