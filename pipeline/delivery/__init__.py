"""Handing released photos out and cleaning up: pull (copies for the comms lead), purge (old originals).

May import the workspace, `consent.database` and `processors.output`.
"""
