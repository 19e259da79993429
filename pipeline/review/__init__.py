"""The review queue: human decisions on held images (list, decide who a face is, release, block).

May import the per-image flow, `pipeline.consent_changes` (re-rendering from originals), `consent`
and `processors`.
"""
