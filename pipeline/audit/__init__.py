"""`pipeline audit`: check archives against today's consent, read-only.

run (the audit itself), files (the read-only walk), worker (one file's analysis), pool (local or Dask
workers), cache (faces by content hash), report (table, JSON, CSV, HTML), thumbs (redacted thumbnails).
May import the per-image flow (`pipeline.analyse`), `pipeline.batch`, `consent` and `processors`.
"""
