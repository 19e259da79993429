"""When consent changes, released photos change too.

propagate (withdrawals, expiry, forget and enrolment reach released photos; takedowns), rerender
(re-render a photo from its kept original with the stored faces, no re-detection).
May import the per-image flow, `consent` and `processors`.
"""
