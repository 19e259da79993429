"""`pipeline audit PATH… [--channel C] [--format table|json|csv|html] [--output FILE] [--executor local|dask]`."""
from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import click

from pipeline.cli.common import executor_options, workspace_option
from pipeline.errors import UserError
from processors.gate import display


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--channel", "channels", multiple=True, metavar="C",
              help="Audit against consent on this channel (repeatable; default: every configured channel).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "html"]), default="table",
              show_default=True, help="table on the terminal, json (one record per file and line), csv or html.")
@click.option("--output", default=None, type=click.Path(dir_okay=False),
              help="Write the report to FILE instead of the terminal (outside the audited folders).")
@click.option("--follow-links", is_flag=True,
              help="Follow shortcuts (symbolic links) inside the folders; by default each is reported as not checked.")
@executor_options("checked")
@workspace_option
def audit(ws, paths, channels, fmt, output, follow_links, executor_kind, scheduler, workers):
    """Check photo archives against today's consent register. Read-only: nothing is changed.

    Reports GPS and other metadata, pupils' full names in file names and embedded text, and every
    face of a child whose consent is refused, withdrawn or expired, who must never be published,
    who may be someone in the register, or who is not in it. Exit code 0 when everything is
    clean, 1 when anything was found or could not be checked (a link, a pipe, an unreadable
    file: a `not_checked` finding), 2 on a usage error.
    """
    from rich.console import Console

    from pipeline.audit.run import audit as run_audit
    from pipeline.audit.files import count, is_within
    from pipeline.audit.report import Spool, verdict
    from pipeline.progress import progress_bar

    missing = [p for p in paths if not os.path.lexists(p)]
    if missing:
        raise UserError(f"Not found: {', '.join(display(m) for m in missing)}. Check the path and try again.")
    unknown = [c for c in channels if c not in ws.config.channels]
    if unknown:
        raise UserError(f"'{unknown[0]}' is not a configured channel; the channels are: "
                        f"{', '.join(ws.config.channels)} (see [channels] names in pipeline.toml).")
    holds_workspace = [p for p in paths if os.path.isdir(p) and is_within(ws.root, p)]
    if holds_workspace:
        raise UserError(f"The workspace {ws.root} is inside {holds_workspace[0]}, and the audit never writes into "
                        "the folders it checks. Audit the folders next to the workspace, or its approved/ folder.")
    if output is not None:
        inside = [p for p in paths if os.path.isdir(p) and is_within(Path(output).parent, p)]
        if inside:
            raise UserError(f"The report would be written inside the audited folder {inside[0]}; "
                            "the audit never writes there. Choose an --output outside it.")
        if not Path(output).parent.is_dir():
            raise UserError(f"The folder for --output does not exist: {Path(output).parent}. Create it first.")

    from pipeline.audit.pool import make_audit_executor
    from pipeline.batch.executor import ExecutorError

    if executor_kind == "dask" and workers is not None:
        raise UserError("--workers is for --executor local; a Dask cluster has the workers started with "
                        "'dask worker' (see docs/scale.md).")
    try:
        executor = make_audit_executor(executor_kind, scheduler=scheduler, workers=workers)
    except ExecutorError as exc:
        raise UserError(str(exc)) from None

    err = Console(stderr=True)
    people = ws.db.execute("SELECT count(*) FROM reference_encodings").fetchone()[0]
    if not people:
        err.print("[yellow]Note:[/] nobody in the consent register has a reference photo yet, so every face "
                  "will be reported as not in the register. Enrol photos with 'pipeline consent enrol DIR'.")
    total = count(list(paths), follow_links)
    spool = Spool()
    summary = None
    try:
        with executor, progress_bar(total, "Auditing", err) as advance:
            for report, summary in run_audit(ws, list(paths), list(channels) or None, executor=executor,
                                             advance=advance, follow_links=follow_links):
                spool.add(report.to_json())
        if summary is None:
            raise UserError("There are no files in " + ", ".join(display(p) for p in paths) + ".")
        _write(fmt, output, spool, summary, ws, err)
    finally:
        spool.close()
    if fmt != "table" or output is not None:
        err.print(verdict(summary) + f" ({summary.seconds:.1f} s)", highlight=False)
    sys.exit(0 if summary.not_ok == 0 else 1)


def _write(fmt, output, spool, summary, ws, err) -> None:
    from rich.console import Console

    from pipeline.audit.report import write_csv, write_html, write_json, write_table
    from pipeline.audit.thumbs import thumbnail_jpeg

    def produce(out) -> None:
        if fmt == "json":
            write_json(spool, out)
        elif fmt == "csv":
            write_csv(spool, out)
        elif fmt == "html":
            write_html(spool, summary, out, ws=ws, thumbnail=lambda r: thumbnail_jpeg(r, ws.config))
        else:
            console = Console(file=out, width=140, force_terminal=False) if output else Console()
            write_table(spool, summary, console)

    if output is None:
        produce(sys.stdout)
        sys.stdout.flush()
        return
    _write_atomic(Path(output), produce)
    err.print(f"Report written to {output}", highlight=False)


def _write_atomic(dest: Path, produce) -> None:
    """Stream the report into a private temporary file next to ``dest`` and rename it into place."""
    from processors.output import atomic_path

    with atomic_path(dest, mode=0o600) as tmp, io.open(tmp, "w", encoding="utf-8", newline="") as fh:
        produce(fh)
