"""`pipeline watch` and `pipeline purge` (built in the watcher issue)."""
import click

from pipeline.errors import UserError


@click.command()
@click.option("--once", is_flag=True, help="Process everything in the inbox, then exit.")
@click.option("--workspace", type=click.Path(file_okay=False), default=None)
def watch(once, workspace):
    """Watch the inbox and process every photo dropped there."""
    raise UserError("'pipeline watch' is not built yet; use 'pipeline process inbox/' for now.")


@click.command()
@click.option("--workspace", type=click.Path(file_okay=False), default=None)
def purge(workspace):
    """Remove originals older than originals.retention_days."""
    raise UserError("'pipeline purge' is not built yet.")
