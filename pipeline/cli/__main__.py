"""`python -m pipeline.cli`: the same as the `pipeline` command."""
from pipeline.cli.main import run

run()
