"""`pipeline consent …`: import, enrol, set, list, show, forget."""
import click


@click.group()
def consent():
    """The consent register: import, enrol, set, list, show, forget."""
