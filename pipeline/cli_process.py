"""`pipeline process PATH…`."""
import click


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
def process(paths):
    """Process photos (files or folders) once."""
