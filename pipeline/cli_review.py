"""`pipeline review` (built in the review issue)."""
import click

from pipeline.errors import UserError


@click.group()
def review():
    """Decide on held images: list, decide, serve."""


@review.command("list")
@click.option("--workspace", type=click.Path(file_okay=False), default=None)
@click.option("--json", "as_json", is_flag=True)
def review_list(workspace, as_json):
    """List images held for review."""
    raise UserError("'pipeline review' is not built yet.")
