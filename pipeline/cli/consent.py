"""`pipeline consent …`: import, enrol, set, list, show, forget."""
from __future__ import annotations

import sys
from datetime import date

import click

from consent import register
from consent.enrol import enrol_directory
from consent.register import Person, RegisterError
from consent.register_import import import_register
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

    Header: person_id,given_name,family_name,group,role,<one column per channel>,expires,never_publish.
    Channel columns are yes/no; expires is YYYY-MM-DD or empty. People already in the register are
    updated; people not in the file are left unchanged.
    """
    summary = import_register(ws.db, csv_file, ws.config.channels, actor=actor_name(),
                              max_bytes=int(ws.config["limits"]["max_register_mb"] * 1024 * 1024))
    report = _propagate(ws, summary.updated, "consent import")  # (review issue) reach released images
    if as_json:
        print_json({**summary.to_json(), "propagation": report.to_json()})
        return
    click.echo(f"Imported {summary.source}: {len(summary.added)} added, {len(summary.updated)} updated, "
               f"{len(summary.unchanged)} unchanged.")
    if summary.restored:
        click.echo(f"Back in the register after being forgotten: {', '.join(summary.restored)} "
                   "(enrol their reference photos again).")
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
    _echo_report(report)


# ---------------------------------------------------------------- enrol

@consent.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@json_option
@workspace_option
def enrol(ws, directory, as_json):
    """Enrol reference photos: DIR/<person_id>/*.jpg or DIR/<person_id>*.jpg (one face per photo).

    Exit code 1 when some photos were refused (the others are enrolled).
    """
    report = enrol_directory(ws.db, directory, actor=actor_name(),
                             min_face_size=ws.config["faces"]["min_recognisable_size"])
    # (review issue) new reference photos can make a face shown in a released image a possible match
    # for someone else (e.g. a never-publish child enrolled late): check every released image again.
    changes = _propagate(ws, None, "consent enrol") if report.enrolled else None
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
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise RegisterError(f"--expires '{value}' is not a date written as YYYY-MM-DD (e.g. 2027-08-31), "
                            "or 'none' to remove the expiry.") from None


@consent.command("set")
@click.argument("person")
@click.option("--channel", required=True, help="Channel name, as in pipeline.toml [channels] names.")
@click.option("--status", required=True, type=click.Choice(register.STATUSES), help="New consent status.")
@click.option("--expires", default=None, metavar="DATE",
              help="Last day this channel's consent is valid (YYYY-MM-DD), or 'none' to remove it. "
                   "Left unchanged when not given.")
@click.option("--reason", default=None, help="Why (kept in the history), e.g. 'letter from parent, 3 May'.")
@json_option
@workspace_option
def set_cmd(ws, person, channel, status, expires, reason, as_json):
    """Set one person's consent on one channel."""
    clear = expires is not None and expires.strip().lower() in ("none", "")
    when = None if expires is None or clear else _parse_cli_date(expires.strip())
    updated = register.set_consent(
        ws.db, person, channel, status, expires=when, clear_expires=clear,
        reason=reason or "set with 'pipeline consent set'", actor=actor_name(), channels=ws.config.channels)
    today = date.today()
    report = _propagate(ws, [person], "consent set")  # (review issue) reach released images
    if as_json:
        print_json({**_person_json(updated, ws.config.channels, today, None), "propagation": report.to_json()})
        return
    c = updated.consents[channel]
    click.echo(f"{updated.person_id} on {channel}: {c.status}"
               + (f" until {c.expires.isoformat()}" if c.expires else "")
               + f" (now counts as {updated.effective_status(channel, today)}).")
    _echo_report(report)


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
    }
    if photos is not None:
        out["reference_photos"] = photos
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
    if as_json:
        print_json([_person_json(p, channels, today, counts.get(p.person_id, 0)) for p in people.values()])
        return
    if not people:
        click.echo("The register is empty. Add people with: pipeline consent import register.csv")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Consent register ({len(people)} people, as of {today.isoformat()})")
    for col in ("ID", "Name", "Group", "Role", *channels, "Never publish", "Photos"):
        table.add_column(col, no_wrap=col != "Name")
    for p in people.values():
        cells = []
        for ch in channels:
            eff = p.effective_status(ch, today)
            cells.append(f"[{STYLE[eff]}]{eff}[/]")
        table.add_row(p.person_id, p.display_name, p.group, p.role, *cells,
                      "[bold red]YES[/]" if p.never_publish else "no", str(counts.get(p.person_id, 0)))
    stream = sys.stdout
    console = Console(file=stream)
    if not console.is_terminal:  # piped or redirected: no 80-column squeeze
        console = Console(file=stream, width=200)
    console.print(table)


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
        out["history"] = [{"at": h["at"], "channel": h["channel"], "field": h["field"], "old": h["old_value"],
                           "new": h["new_value"], "reason": h["reason"], "actor": h["actor"]} for h in hist]
        print_json(out)
        return
    click.echo(f"{p.person_id}: {p.display_name}  group {p.group or '-'}, {p.role}"
               + (f", consent expires after {p.expires.isoformat()}" if p.expires else ""))
    if p.never_publish:
        click.echo("NEVER PUBLISH: any photo in which this person may appear is blocked on every channel.")
    if p.forgotten:
        click.echo("Forgotten: name and reference photos erased.")
    for ch in channels:
        c = p.consents.get(ch)
        eff = p.effective_status(ch, today)
        if c is None:
            detail = "no answer, counts as refused"
        else:
            detail = c.status + (f", until {c.expires.isoformat()}" if c.expires else "")
        click.echo(f"  {ch:<12} {eff:<10} ({detail})")
    click.echo(f"Reference photos: {len(photos)}" + (": " + ", ".join(x["file"] for x in photos) if photos else ""))
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
    from processors.names import NamedPerson

    named = [NamedPerson(p.person_id, p.given_name or "", p.family_name or "")] if p.given_name and p.family_name else []
    register.forget_person(ws.db, person, actor=actor_name())
    click.echo(f"{person} forgotten: name and reference photos erased; the history keeps only the id.")
    _echo_report(_propagate(ws, [person], "consent forget", forgotten=named))


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
