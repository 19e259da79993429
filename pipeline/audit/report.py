"""Write an audit as a terminal table, JSON lines, CSV or a self-contained HTML report.

Records (``FileReport.to_json()``) are spooled to a temporary file while the audit runs,
so the summary can come first and memory stays flat for any number of files; every
writer reads the spool back one record at a time.

* ``table``: files that are not ok with their findings, then the summary (rich);
* ``json``:  one JSON object per line and per file: ``path``, ``ok``, ``findings`` …;
* ``csv``:   one row per finding (a file without findings has one row with an empty kind);
* ``html``:  one file, no external assets: summary, then per file a redacted thumbnail
  with the offending faces outlined and numbered, and the findings listed.
"""
from __future__ import annotations

import base64
import csv
import json
import tempfile
from datetime import datetime

from pipeline.audit.run import KINDS
from processors.gate import csv_row

LABELS = {
    "gps": "GPS location",
    "exif": "EXIF camera data",
    "xmp": "XMP data",
    "iptc": "IPTC data",
    "thumbnail": "Embedded preview picture",
    "full_name_in_filename": "Full name in file name",
    "full_name_in_metadata": "Full name in embedded text",
    "full_name_in_picture": "Full name in the picture",
    "face_never_publish": "Child who must never be published",
    "face_refused": "Face: consent refused",
    "face_withdrawn": "Face: consent withdrawn",
    "face_expired": "Face: consent expired",
    "face_uncertain": "Face: possibly someone in the register",
    "face_unknown": "Face: not in the register",
    "not_checked": "Not checked (open it by hand)",
}
SEVERITY = {k: ("critical" if k in ("face_never_publish",) else
                "high" if k in ("not_checked", "face_refused", "face_withdrawn", "face_expired", "gps",
                                "full_name_in_filename", "full_name_in_metadata", "full_name_in_picture") else
                "medium" if k in ("face_uncertain", "face_unknown", "thumbnail") else "low") for k in KINDS}
CSV_COLUMNS = ["path", "ok", "kind", "channel", "face", "box", "person", "name", "match", "distance", "source",
               "text", "detail", "error", "note", "sha256"]
MAX_THUMBNAILS = 5000


class Spool:
    """JSON lines in an anonymous temporary file (outside the audited folders)."""

    def __init__(self):
        self._fh = tempfile.TemporaryFile("w+", encoding="utf-8")

    def add(self, record: dict) -> None:
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")

    def __iter__(self):
        self._fh.flush()
        self._fh.seek(0)
        for line in self._fh:
            yield json.loads(line)
        self._fh.seek(0, 2)

    def close(self) -> None:
        self._fh.close()


# --------------------------------------------------------------------------- for people

def group_findings(findings: list[dict], channels: list[str]) -> list[dict]:
    """Findings merged across channels (``channels`` lists where each applies), each with a sentence."""
    groups: dict[tuple, dict] = {}
    for f in findings:
        key = (f["kind"], f.get("face"), f.get("person"), f.get("source"), f.get("text"))
        g = groups.setdefault(key, {**f, "channels": []})
        g["channels"].append(f["channel"])
    out = []
    for g in groups.values():
        g["where"] = ("all channels" if len(channels) > 1 and set(g["channels"]) == set(channels)
                      else ", ".join(g["channels"]))
        g["label"] = LABELS[g["kind"]]
        g["severity"] = SEVERITY[g["kind"]]
        g["sentence"] = describe(g)
        out.append(g)
    return out


def describe(f: dict) -> str:
    kind = f["kind"]
    who = _who(f)
    if kind in ("full_name_in_filename", "full_name_in_metadata"):
        return f"“{f['text']}” in the {_source(f['source'])} — {who}"
    if kind == "full_name_in_picture":
        t, r, b, l = f["box"]
        return f"{f['detail']} (at {l},{t}, {r - l}×{b - t} px) — {who}"
    if kind.startswith("face_"):
        t, r, b, l = f["box"]
        pos = f"{f['position']}, " if f.get("position") else ""
        where = f"face {f['face'] + 1} ({pos}at {l},{t}, {r - l}×{b - t} px)"
        if kind == "face_unknown":
            return f"{where}: {f['detail']}"
        if kind == "face_uncertain":
            return f"{where}: possibly {who} (distance {f['distance']}); not identified"
        return f"{where}: {who} — {f['detail']}"
    return f.get("detail") or LABELS[kind]


def _who(f: dict) -> str:
    if f.get("name"):
        return f"{f['name']} ({f['person']})"
    return f.get("person") or "someone"


def _source(source: str) -> str:
    names = {"text in the file": "file's text", "comment": "JPEG comment"}
    if source in names:
        return names[source]
    if ":" in source:
        return f"embedded {source}"
    return source


def problem_line(record: dict) -> str:
    return record["error"] if record.get("error") else ""


# --------------------------------------------------------------------------- machine formats

def public(record: dict) -> dict:
    """The record as reported (without the internal ``_`` keys)."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


def write_json(records, out) -> None:
    for record in records:
        out.write(json.dumps(public(record), ensure_ascii=False) + "\n")


def write_csv(records, out) -> None:
    """One row per finding; every text cell through ``csv_cell`` (no cell can run as a formula)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in records:
        base = {"path": r["path"], "ok": "yes" if r["ok"] else "no", "error": r["error"] or "",
                "note": r["note"] or "", "sha256": r["sha256"] or ""}
        if not r["findings"]:
            writer.writerow(csv_row(base.get(c, "") for c in CSV_COLUMNS))
            continue
        for f in r["findings"]:
            row = {**base, **{k: v for k, v in f.items() if v is not None}}
            if "box" in f:
                row["box"] = " ".join(str(v) for v in f["box"])
            writer.writerow(csv_row(row.get(c, "") for c in CSV_COLUMNS))


# --------------------------------------------------------------------------- terminal

def write_table(records, summary, console, *, batch: int = 200) -> None:
    from rich.table import Table

    def new_table(first: bool) -> Table:
        t = Table(show_header=first, header_style="bold", show_lines=True, expand=True)
        t.add_column("File", ratio=2, overflow="fold")
        t.add_column("Findings", ratio=5, overflow="fold")
        return t

    table, rows = new_table(True), 0
    for r in records:
        if r["ok"]:
            continue
        lines = []
        for g in group_findings(r["findings"], summary.channels):
            colour = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}[g["severity"]]
            lines.append(f"[{colour}]{g['kind']}[/] [dim]({g['where']})[/] {_esc(g['sentence'])}")
        if r["error"]:
            lines.append(f"[bold yellow]not checked for faces[/] {_esc(r['error'])}")
        table.add_row(_esc(r["path"]), "\n".join(lines))
        rows += 1
        if rows == batch:
            console.print(table)
            table, rows = new_table(False), 0
    if rows:
        console.print(table)
    write_summary(summary, console)


def write_summary(summary, console) -> None:
    from rich.table import Table

    s = summary
    t = Table(title="Audit summary", show_header=False, title_justify="left", title_style="bold")
    t.add_column(justify="left")
    t.add_column(justify="right")
    t.add_row("Files", str(s.files))
    t.add_row("Photos checked for faces", str(s.photos_checked))
    t.add_row("Files with violations", f"[{'red' if s.with_findings else 'green'}]{s.with_findings}[/]")
    t.add_row("Files that could not be checked", f"[{'yellow' if s.not_checked else 'green'}]{s.not_checked}[/]")
    t.add_row("Other files (not photos)", str(s.not_photos))
    t.add_row("Channels", ", ".join(s.channels))
    t.add_row("Reused from earlier audits", str(s.from_cache))
    console.print(t)
    if s.files_by_kind:
        k = Table(title="Files by kind of finding", title_justify="left", title_style="bold")
        k.add_column("Kind")
        k.add_column("What it means")
        k.add_column("Files", justify="right")
        for kind in KINDS:
            if s.files_by_kind[kind]:
                k.add_row(kind, LABELS[kind], str(s.files_by_kind[kind]))
        console.print(k)
    console.print(verdict(summary), highlight=False)


def verdict(summary) -> str:
    s = summary
    if s.not_ok == 0:
        return f"[green]No violations in {s.files} file(s).[/]"
    parts = []
    if s.with_findings:
        parts.append(f"{s.with_findings} file(s) with violations")
    if s.not_checked:
        parts.append(f"{s.not_checked} file(s) could not be checked (open them by hand)")
    return f"[red]{' and '.join(parts)} out of {s.files}.[/]"


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)


# --------------------------------------------------------------------------- html

def write_html(spool, summary, out, *, ws, thumbnail) -> None:
    """Stream the HTML report; ``thumbnail(record) -> bytes | None`` makes each redacted thumbnail."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("pipeline.audit", "templates"), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    template = env.get_template("audit.html.j2")
    shown = [0]

    def problems():
        for r in spool:
            if r["ok"]:
                continue
            uri = None
            if shown[0] < MAX_THUMBNAILS:
                jpeg = thumbnail(r)
                if jpeg:
                    shown[0] += 1
                    uri = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
            yield {**r, "groups": group_findings(r["findings"], summary.channels), "thumbnail": uri}

    def clean():
        for r in spool:
            if r["ok"]:
                yield r

    kinds = [{"kind": k, "label": LABELS[k], "severity": SEVERITY[k], "files": summary.files_by_kind[k],
              "findings": summary.findings_by_kind[k]} for k in KINDS if summary.files_by_kind[k]]
    context = {"summary": summary, "kinds": kinds, "problems": problems(), "clean": clean(),
               "generated": datetime.now().astimezone().strftime("%d %B %Y, %H:%M"),
               "workspace": str(ws.root.resolve()), "max_thumbnails": MAX_THUMBNAILS,
               "verdict_ok": summary.not_ok == 0}
    for chunk in template.generate(**context):
        out.write(chunk)
