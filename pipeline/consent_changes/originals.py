"""Originals are private, verified copies: what happens when a kept original is not what was processed.

``pipeline.consent_changes.rerender.original_bytes`` checks every read of a kept original against the SHA-256 recorded
for it and raises ``OriginalChanged`` on a mismatch. The callers (consent propagation, review release,
the reviewer's face crop, previews) refuse to make anything from it; this module gives them the one
plain reason to show and records the event in the audit trail.
"""
from __future__ import annotations

from consent.register import record_event


def hold_reason(exc) -> str:
    """The reason shown for a photo held because its kept original changed."""
    return (f"held: {exc}. Nothing is released or re-rendered from it; block it "
            f"('pipeline review decide {exc.job_id} --block') and drop the original photo into the inbox again")


def record_changed_original(conn, job, exc, *, actor: str, during: str) -> None:
    """Append an ``original.changed`` event (inside the caller's transaction)."""
    record_event(conn, "original.changed", actor, None, {
        "job_id": job["id"], "expected_sha256": exc.expected, "found_sha256": exc.found, "during": during,
        "original_path": job["original_path"]})
