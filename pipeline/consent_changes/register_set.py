"""`consent set` and `consent import` as shared functions. `consent set`: one channel or all, never-publish, biometric consent, then the
change reaches released images (pipeline.consent_changes.propagate) and, where consent was granted again, the photos
redacted only because of the earlier refusal go to the review queue (pipeline.consent_changes.renewed).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from consent import lifecycle, register
from consent.register import Person, RegisterError


@dataclass
class SetResult:
    person: Person
    channels: list[str] = field(default_factory=list)   # channels whose consent was set
    erased: int = 0                                       # reference photos erased (biometric no)
    report: object = None                                 # PropagationReport
    renewed: list[int] = field(default_factory=list)      # jobs queued as "consent renewed"


def apply_set(ws, person_id: str, *, channel: str | None, status: str | None, expires: date | None = None,
              clear_expires: bool = False, never_publish: bool | None = None, biometric: bool | None = None,
              reason: str | None, actor: str) -> SetResult:
    """Apply one ``consent set`` command; raises RegisterError (nothing changed) on a usage problem."""
    from pipeline.consent_changes.propagate import propagate

    channels = ws.config.channels
    if channel is None and status is None and never_publish is None and biometric is None:
        raise RegisterError("Say what to change: --channel C|all --status granted|refused|withdrawn, "
                            "--never-publish yes|no or --biometric yes|no.")
    if (channel is None) != (status is None):
        raise RegisterError("--channel and --status go together, e.g. --channel website --status withdrawn "
                            "(or --channel all).")
    if channel is None and (expires is not None or clear_expires):
        raise RegisterError("--expires belongs to a channel's consent: add --channel C|all --status ….")
    reason = reason or "set with 'pipeline consent set'"
    before = register.get_person(ws.db, person_id)
    if before.forgotten:
        raise RegisterError(
            f"'{person_id}' has been forgotten (name and photos erased). To bring them back, run "
            f"'pipeline consent restore {person_id} --reason \"…\"', then import the register again.")
    result = SetResult(person=before)
    if channel is not None:
        if channel.strip().lower() == "all":
            result.person = lifecycle.set_consent_everywhere(
                ws.db, person_id, status, channels, expires=expires, clear_expires=clear_expires,
                reason=reason, actor=actor)
            result.channels = list(channels)
        else:
            result.person = register.set_consent(
                ws.db, person_id, channel, status, expires=expires, clear_expires=clear_expires, reason=reason,
                actor=actor, channels=channels)
            result.channels = [channel]
    if never_publish is not None or biometric is not None:
        result.person, result.erased = lifecycle.set_person_flags(
            ws.db, person_id, never_publish=never_publish, biometric=biometric, reason=reason, actor=actor)
    result.report = propagate(ws, [person_id], cause="consent set", actor=actor)
    if status == "granted":
        from pipeline.consent_changes.renewed import queue_renewed

        result.renewed = queue_renewed(ws, person_id, before, actor=actor)
    return result


def apply_import(ws, csv_file, *, actor: str):
    """``consent import``: the register from a CSV (all or nothing), then released images brought in line,
    consent granted again queued as "consent renewed" review items, and warnings about the people touched.

    Returns ``(summary, propagation report, warnings, renewed job ids)``.
    """
    from consent.register import load_people
    from consent.register_import import import_register
    from pipeline.consent_changes.propagate import propagate
    from pipeline.consent_changes.renewed import queue_renewed

    before = load_people(ws.db)
    summary = import_register(ws.db, csv_file, ws.config.channels, actor=actor,
                              max_bytes=int(ws.config["limits"]["max_register_mb"] * 1024 * 1024))
    report = propagate(ws, summary.updated, cause="consent import", actor=actor)
    renewed: list[int] = []
    for pid in summary.updated:
        if pid in before:
            renewed += [j for j in queue_renewed(ws, pid, before[pid], actor=actor) if j not in renewed]
    touched = summary.added + summary.updated
    warnings = lifecycle.register_warnings(ws.db, ws.config.channels, people=touched) if touched else []
    return summary, report, warnings, renewed
