"""Jobs done on one image: decode, read metadata, find faces, redact, scrub names, encode.

Nothing in this package knows about the database or the workspace.
"""
