"""Orchestration: the per-image flow, job states in the database, the `pipeline` command."""
