"""`pipeline consent …`: import, enrol, set, list, show, forget, check."""
from __future__ import annotations

import sys
from datetime import date

import click

from consent import lifecycle, register
from consent.register import Person, RegisterError
from pipeline.cli.common import actor_name, json_option, print_json, workspace_option


@click.group()
def consent():
    """The consent register: import, enrol, set, list, show, forget."""


# ---------------------------------------------------------------- import

@consent.command("import")
@click.argument("csv_file", type=click.Path(dir_okay=False))
@json_option
@workspace_option
def import_cmd(ws, csv_file, as_json):
    """Import the register from a CSV file (all or nothing).

    Header: person_id,given_name,family_name,group,role,<one column per channel>,expires,never_publish,biometric.
    Channel columns are yes/no; expires is YYYY-MM-DD or empty; biometric is yes only with a parent's
    written consent to reference photos. People already in the register are updated; people not in
    the file are left unchanged; people who were forgotten stay forgotten.
    """
    from pipeline.consent_changes.register_set import apply_import

    summary, report, warnings, renewed = apply_import(ws, csv_file, actor=actor_name())
    if as_json:
        print_json({**summary.to_json(), "propagation": report.to_json(),
                    "warnings": [w.to_json() for w in warnings], "consent_renewed": renewed})
        return
    click.echo(f"Imported {summary.source}: {len(summary.added)} added, {len(summary.updated)} updated, "
               f"{len(summary.unchanged)} unchanged.")
    for pid, erased_on in summary.erased_skipped:
        click.echo(f"Skipped {pid}: erased on {erased_on} ('consent forget'); nothing was stored for them. "
                   f"Only 'pipeline consent restore {pid} --reason \"…\"' brings them back.")
    for pid, n in summary.biometric_withdrawn:
        click.echo(f"Biometric consent is now no for {pid}: {n} reference photo{'s' if n != 1 else ''} erased; "
                   "they are no longer recognised and are always blurred.")
    if summary.not_in_file:
        click.echo(f"{summary.not_in_file} {'person' if summary.not_in_file == 1 else 'people'} in the register "
                   f"{'is' if summary.not_in_file == 1 else 'are'} not in this file; "
                   "they were left unchanged.")
    if summary.never_publish_cleared:
        click.echo("WARNING: never-publish was switched OFF for: " + ", ".join(summary.never_publish_cleared) +
                   ". If that is a mistake, correct the file and import it again now.")
    for pid, channel in summary.kept_withdrawn:
        click.echo(f"Kept withdrawn: {pid} on {channel} (the file says yes, but consent was withdrawn). "
                   f"If the family has agreed again: pipeline consent set {pid} --channel {channel} "
                   "--status granted --reason \"…\"")
    for note in summary.notes:
        click.echo(f"Note: {note}")
    if renewed:
        click.echo(f"Consent renewed: {len(renewed)} released photo{'s' if len(renewed) != 1 else ''} still blur "
                   "someone who now has consent; they wait in 'pipeline review list' for a person to decide.")
    _echo_warnings(warnings)
    _echo_report(report)


def _echo_warnings(warnings, limit: int = 10) -> None:
    """Register warnings, grouped by kind, at most ``limit`` lines per kind."""
    by_kind: dict[str, list] = {}
    for w in warnings:
        by_kind.setdefault(w.kind, []).append(w)
    for kind, items in by_kind.items():
        for w in items[:limit]:
            click.echo(f"WARNING: {w.message}")
        if len(items) > limit:
            click.echo(f"WARNING: … and {len(items) - limit} more like this ('pipeline consent list' shows all).")


# ---------------------------------------------------------------- enrol

@consent.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@json_option
@workspace_option
def enrol(ws, directory, as_json):
    """Enrol reference photos: DIR/<person_id>/*.jpg or DIR/<person_id>*.jpg (one face per photo).

    Exit code 1 when some photos were refused (the others are enrolled).
    """
    import os

    if not os.path.isdir(directory):  # a pipe or a device passes click's file_okay=False
        from pipeline.errors import UserError
        from processors.gate import display

        raise UserError(f"{display(directory)} is not a folder; give the folder of reference photos "
                        "(DIR/<person_id>/*.jpg or DIR/<person_id>*.jpg).")
    from pipeline.consent_changes.register_actions import enrol_photos

    # enrol, recalibrate the identification rule, keep a face thumbnail of each photo for the review
    # page, and (review issue) check every released image again: new reference photos can make a face
    # shown in a released image a possible match for someone else (e.g. a never-publish child enrolled late)
    report, changes = enrol_photos(ws, directory, actor=actor_name())
    if as_json:
        print_json({**report.to_json(), **({"propagation": changes.to_json()} if changes else {})})
    else:
        people = sorted({p for _, p in report.enrolled})
        click.echo(f"Enrolled {len(report.enrolled)} photo{'s' if len(report.enrolled) != 1 else ''}"
                   f" of {len(people)} {'person' if len(people) == 1 else 'people'}"
                   + (f"; {len(report.already)} already enrolled" if report.already else "") + ".")
        if report.refused:
            click.echo(f"Refused {len(report.refused)} file{'s' if len(report.refused) != 1 else ''} "
                       "(nothing was stored for them):")
            for name, reason in report.refused:
                click.echo(f"  {name}: {reason}")
        if changes is not None and changes.checked:
            _echo_report(changes)
    if report.refused:
        sys.exit(1)


# ---------------------------------------------------------------- set

def _parse_cli_date(value: str) -> date:
    problem = lifecycle.explain_date(value)
    if problem:
        raise RegisterError(f"--expires {problem}; or use 'none' to remove the expiry.")
    return date.fromisoformat(value)


YES_NO = click.Choice(["yes", "no"], case_sensitive=False)


@consent.command("set")
@click.argument("person")
@click.option("--channel", default=None,
              help="Channel name, as in pipeline.toml [channels] names, or 'all' for every channel.")
@click.option("--status", default=None, type=click.Choice(register.STATUSES), help="New consent status.")
@click.option("--never-publish", "never_publish", default=None, type=YES_NO,
              help="yes: any photo in which this person may appear is blocked on every channel.")
@click.option("--biometric", default=None, type=YES_NO,
              help="Written parental consent to reference photos; 'no' erases this person's reference photos at once.")
@click.option("--expires", default=None, metavar="DATE",
              help="Last day this channel's consent is valid (YYYY-MM-DD), or 'none' to remove it. "
                   "Left unchanged when not given.")
@click.option("--reason", default=None, help="Why (kept in the history), e.g. 'letter from parent, 3 May'.")
@json_option
@workspace_option
def set_cmd(ws, person, channel, status, expires, reason, as_json, never_publish, biometric):
    """Set a person's consent on one channel (or --channel all), and/or --never-publish, --biometric."""
    from pipeline.consent_changes.register_set import apply_set

    clear = expires is not None and expires.strip().lower() in ("none", "")
    when = None if expires is None or clear else _parse_cli_date(expires.strip())
    result = apply_set(ws, person, channel=channel, status=status, expires=when, clear_expires=clear,
                       never_publish=None if never_publish is None else never_publish.lower() == "yes",
                       biometric=None if biometric is None else biometric.lower() == "yes",
                       reason=reason, actor=actor_name())
    today = date.today()
    updated = result.person
    if as_json:
        print_json({**_person_json(updated, ws.config.channels, today, None),
                    "propagation": result.report.to_json(), "reference_photos_erased": result.erased})
        return
    for ch in result.channels:
        c = updated.consents[ch]
        click.echo(f"{updated.person_id} on {ch}: {c.status}"
                   + (f" until {c.expires.isoformat()}" if c.expires else "")
                   + f" (now counts as {updated.effective_status(ch, today)}).")
    if never_publish is not None:
        click.echo(f"{updated.person_id}: never publish is {'YES' if updated.never_publish else 'no'}.")
    if biometric is not None:
        click.echo(f"{updated.person_id}: biometric consent is {'yes' if updated.biometric else 'no'}"
                   + (f"; {result.erased} reference photo{'s' if result.erased != 1 else ''} erased"
                      if result.erased else "") + ".")
    _echo_report(result.report)


# ---------------------------------------------------------------- list / show

def _person_json(p: Person, channels: list[str], today: date, photos: int | None) -> dict:
    consents = {}
    for ch in channels:
        c = p.consents.get(ch)
        consents[ch] = {"status": c.status if c else "refused",
                        "expires": c.expires.isoformat() if c and c.expires else None,
                        "effective": p.effective_status(ch, today)}
    out = {
        "person_id": p.person_id, "given_name": p.given_name, "family_name": p.family_name,
        "group": p.group, "role": p.role, "expires": p.expires.isoformat() if p.expires else None,
        "never_publish": p.never_publish, "forgotten": p.forgotten, "consents": consents,
        "biometric": p.biometric,
    }
    if photos is not None:
        out["reference_photos"] = photos
        out["recognised"] = bool(p.biometric and not p.forgotten and photos)
    return out


STYLE = {"granted": "green", "refused": "red", "withdrawn": "red", "expired": "yellow"}


@consent.command("list")
@json_option
@workspace_option
def list_cmd(ws, as_json):
    """Everyone in the register with their consent on each channel (as it counts today)."""
    people = register.load_people(ws.db)
    counts = register.reference_photo_counts(ws.db)
    channels = ws.config.channels
    today = date.today()
    warnings: dict[str, list] = {}
    for p in people.values():
        warnings[p.person_id] = lifecycle.person_warnings(p, counts.get(p.person_id, 0), channels, today)
    if as_json:
        print_json([{**_person_json(p, channels, today, counts.get(p.person_id, 0)),
                     "warnings": [w.to_json() for w in warnings[p.person_id]]} for p in people.values()])
        return
    if not people:
        click.echo("The register is empty. Add people with: pipeline consent import register.csv")
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"Consent register ({len(people)} people, as of {today.isoformat()})")
    for col in ("ID", "Name", "Group", "Role", *channels, "Never publish", "Biometric", "Photos"):
        table.add_column(col, no_wrap=col != "Name")
    for p in people.values():
        cells = []
        for ch in channels:
            eff = p.effective_status(ch, today)
            cells.append(f"[{STYLE[eff]}]{eff}[/]")
        biometric = ("-" if p.forgotten else "yes" if p.biometric
                     else "[yellow]no: never recognised, always blurred as unknown[/]")
        table.add_row(p.person_id, p.display_name, p.group, p.role, *cells,
                      "[bold red]YES[/]" if p.never_publish else "no", biometric, str(counts.get(p.person_id, 0)))
    stream = sys.stdout
    console = Console(file=stream)
    if not console.is_terminal:  # piped or redirected: no 80-column squeeze
        console = Console(file=stream, width=200)
    console.print(table)
    for items in warnings.values():
        for w in items:
            console.print(f"[yellow]WARNING:[/] {escape(w.message)}", highlight=False, markup=True)


@consent.command()
@click.argument("person")
@json_option
@workspace_option
def show(ws, person, as_json):
    """One person: consent per channel, reference photos and the full history of changes."""
    p = register.get_person(ws.db, person)
    channels = ws.config.channels
    today = date.today()
    photos = [dict(r) for r in ws.db.execute(
        "SELECT source_name AS file, created_at AS added FROM reference_encodings WHERE person_id=? ORDER BY id",
        (person,))]
    hist = register.history(ws.db, person)
    if as_json:
        out = _person_json(p, channels, today, len(photos))
        out["reference_photo_files"] = photos
        out["warnings"] = [w.to_json() for w in lifecycle.person_warnings(p, len(photos), channels, today)]
        out["history"] = [{"at": h["at"], "channel": h["channel"], "field": h["field"], "old": h["old_value"],
                           "new": h["new_value"], "reason": h["reason"], "actor": h["actor"]} for h in hist]
        print_json(out)
        return
    click.echo(f"{p.person_id}: {p.display_name}  group {p.group or '-'}, {p.role}"
               + (f", consent expires after {p.expires.isoformat()}" if p.expires else ""))
    if p.never_publish:
        click.echo("NEVER PUBLISH: any photo in which this person may appear is blocked on every channel.")
    if p.forgotten:
        erased_on = ws.db.execute("SELECT forgotten_at FROM people WHERE person_id=?", (person,)).fetchone()[0]
        click.echo(f"Forgotten: name and biometric data erased on {erased_on[:10]}. Imports skip this id; "
                   f"'pipeline consent restore {person} --reason \"…\"' brings it back.")
    elif p.biometric:
        click.echo("Biometric consent: yes (reference photos may be enrolled and used to recognise them).")
    else:
        click.echo("Biometric consent: no. No reference photo is kept, so this person is never recognised "
                   "and is always blurred as unknown.")
    for ch in channels:
        c = p.consents.get(ch)
        eff = p.effective_status(ch, today)
        if c is None:
            detail = "no answer, counts as refused"
        else:
            detail = c.status + (f", until {c.expires.isoformat()}" if c.expires else "")
        click.echo(f"  {ch:<12} {eff:<10} ({detail})")
    click.echo(f"Reference photos: {len(photos)}" + (": " + ", ".join(x["file"] for x in photos) if photos else ""))
    for w in lifecycle.person_warnings(p, len(photos), channels, today):
        click.echo(f"WARNING: {w.message}")
    click.echo("History:")
    for h in hist:
        what = f"{h['channel']} {h['field']}" if h["channel"] else h["field"]
        click.echo(f"  {h['at']}  {what}: {h['old_value'] or '-'} -> {h['new_value'] or '-'}"
                   f"  ({h['reason']}; {h['actor']})")


# ---------------------------------------------------------------- forget

@consent.command()
@click.argument("person")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@workspace_option
def forget(ws, person, yes):
    """Erase a person's name and reference photos; the audit trail keeps a nameless tombstone."""
    p = register.get_person(ws.db, person)
    if p.forgotten:
        click.echo(f"{person} was already forgotten; nothing to erase.")
        return
    if not yes:
        if not sys.stdin.isatty():
            raise RegisterError(f"Forgetting {person} cannot be undone; add --yes to confirm "
                                "(no one is at the keyboard to answer the question).")
        click.confirm(f"Forget {person} ({p.display_name})? This erases their name and reference photos "
                      "and cannot be undone", abort=True)
    from pipeline.consent_changes.erasure import forget_everywhere

    result = forget_everywhere(ws, person, actor=actor_name())
    click.echo(f"{person} forgotten: name and reference photos erased; the history keeps only the id.")
    _echo_report(result.report)
    for line in result.lines():
        click.echo(line)


# ---------------------------------------------------------------- restore

@consent.command()
@click.argument("person")
@click.option("--reason", required=True, help="Why this erased id comes back (kept in the history).")
@workspace_option
def restore(ws, person, reason):
    """Bring a forgotten (erased) id back; recorded. The next 'consent import' fills in name and consent."""
    p = lifecycle.restore_person(ws.db, person, reason=reason, actor=actor_name())
    click.echo(f"{p.person_id} is back in the register with no name, no consent and no biometric consent; "
               "import the register (or use 'pipeline consent set') to fill them in.")


# ---------------------------------------------------------------- check (issue 20)

@consent.command()
@json_option
@workspace_option
def check(ws, as_json):
    """Check the register can tell its people apart: the calibrated identification rule and its
    basis, pupils with too few, old, alike or misleading reference photos, look-alike pairs, and
    people with consent but no reference photo."""
    from consent.identification.check import check_register

    result = check_register(ws.db, ws.config["faces"], ws.config.channels, date.today())
    if as_json:
        print_json(result.to_json())
        return
    for line in result.lines():
        click.echo(line)


# ---------------------------------------------------------------- expire (review issue)

@consent.command()
@json_option
@workspace_option
def expire(ws, as_json):
    """Apply consent that has expired to every image already released.

    Every released image is checked against today's register: a person whose consent expired
    (or changed in any other way) is redacted by re-rendering the image from its original.
    'pipeline watch' runs this check once a day by itself.
    """
    from pipeline.consent_changes.propagate import expire as run_expiry

    report = run_expiry(ws, actor=actor_name())
    if as_json:
        print_json(report.to_json())
        return
    _echo_report(report)


def _propagate(ws, people, cause: str, forgotten=()):
    """Re-render every released image of ``people`` with the register as it is now (pipeline.consent_changes.propagate)."""
    from pipeline.consent_changes.propagate import propagate

    return propagate(ws, people, cause=cause, actor=actor_name(), forgotten=forgotten)


def _echo_report(report) -> None:
    for line in report.lines():
        click.echo(line)
