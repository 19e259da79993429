"""`pipeline audit` (built in the audit issue)."""
import click

from pipeline.errors import UserError


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--channel", default=None)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "html"]), default="table")
@click.option("--output", default=None, type=click.Path(dir_okay=False))
@click.option("--workspace", type=click.Path(file_okay=False), default=None)
def audit(paths, channel, fmt, output, workspace):
    """Check existing archives against today's consent (read-only)."""
    raise UserError("'pipeline audit' is not built yet.")
