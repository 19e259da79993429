"""`pipeline pull` (built in the watcher issue)."""
import click

from pipeline.errors import UserError


@click.command()
@click.option("--channel", required=True)
@click.option("--to", "dest", required=True, type=click.Path(file_okay=False))
@click.option("--since", default=None)
@click.option("--workspace", type=click.Path(file_okay=False), default=None)
def pull(channel, dest, since, workspace):
    """Copy released images of one channel to the comms lead's folder."""
    raise UserError("'pipeline pull' is not built yet.")
