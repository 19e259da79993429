"""Who may open what: the ONE table mapping every console route to the roles allowed on it.

The server checks it before every request (``console.app``); a route missing from the table is
refused to everyone (fail closed), and a test builds the route x role matrix from this table.
``admin`` may do everything except what needs a child's un-redacted face in front of the person
deciding: seeing face crops and reference photos, and identifying or releasing a held photo are
for ``safeguarding`` only.
"""
from __future__ import annotations

PUBLIC = "public"          # no session needed
SIGNED_IN = "signed-in"    # any role

ADMIN, SAFEGUARDING, OFFICE, COMMS, STAFF = "admin", "safeguarding", "office", "comms", "staff"
ROLES = (ADMIN, SAFEGUARDING, OFFICE, COMMS, STAFF)

_REVIEW_VIEW = frozenset({SAFEGUARDING, ADMIN})
_FACES = frozenset({SAFEGUARDING})
_COMMS = frozenset({COMMS, ADMIN})
_REGISTER = frozenset({OFFICE, SAFEGUARDING, ADMIN})
_UPLOAD = frozenset({STAFF, ADMIN})

# endpoint -> PUBLIC, SIGNED_IN, or the frozenset of roles allowed
ROUTES: dict[str, object] = {
    "static": PUBLIC,
    "auth.healthz": PUBLIC,
    "auth.login": PUBLIC,
    "auth.logout": SIGNED_IN,
    "auth.home": SIGNED_IN,
    # the review queue (held photos)
    "review.queue": _REVIEW_VIEW,
    "review.preview": _REVIEW_VIEW,          # the redacted preview
    "review.face": _FACES,                   # the un-redacted face in question
    "review.reference": _FACES,              # a candidate's reference photo
    "review.identify": _FACES,
    "review.undo": _FACES,
    "review.release": _FACES,
    "review.block": _REVIEW_VIEW,            # blocking is always safe
    "review.retract": _FACES,                # taking back a released photo
    # approved photos per channel, takedowns
    "gallery.index": _COMMS,
    "gallery.channel": _COMMS,
    "gallery.thumb": _COMMS,
    "gallery.download": _COMMS,
    "gallery.zip": _COMMS,
    "gallery.posted": _COMMS,
    "gallery.not_released": _COMMS,
    "takedowns.list": _COMMS,
    "takedowns.done": _COMMS,
    # the consent register
    "register.page": _REGISTER,
    "register.import_csv": _REGISTER,
    "register.consent": _REGISTER,
    "register.never_publish": _REGISTER,
    "register.forget": _REGISTER,
    "register.photos": _REGISTER,
    # staff uploads
    "uploads.form": _UPLOAD,
    "uploads.send": _UPLOAD,
    "uploads.mine": _UPLOAD,
    # the audit trail, accounts
    "activity.log": frozenset({SAFEGUARDING, ADMIN}),
    "users.page": frozenset({ADMIN}),
    "users.add": frozenset({ADMIN}),
    "users.set_role": frozenset({ADMIN}),
    "users.disable": frozenset({ADMIN}),
    "users.enable": frozenset({ADMIN}),
    "users.reset": frozenset({ADMIN}),
}

# endpoints that answer with an image or a file: without a session they answer 401, not a redirect
FILES = frozenset({"review.preview", "review.face", "review.reference", "gallery.thumb", "gallery.download",
                   "gallery.zip"})


def allowed(endpoint: str | None, role: str | None) -> bool:
    """May ``role`` (None: not signed in) use ``endpoint``? Unknown endpoints: nobody."""
    rule = ROUTES.get(endpoint or "")
    if rule is None:
        return False
    if rule == PUBLIC:
        return True
    if role is None:
        return False
    return rule == SIGNED_IN or role in rule


def needs_session(endpoint: str | None) -> bool:
    return ROUTES.get(endpoint or "") != PUBLIC


# where each role starts after signing in
HOME = {ADMIN: "users.page", SAFEGUARDING: "review.queue", OFFICE: "register.page", COMMS: "gallery.index",
        STAFF: "uploads.form"}

# the navigation bar: (endpoint, label), shown only when allowed
NAV = [("review.queue", "Review"), ("gallery.index", "Approved photos"), ("takedowns.list", "Takedowns"),
       ("register.page", "Register"), ("uploads.form", "Upload"), ("uploads.mine", "My uploads"),
       ("activity.log", "Activity"), ("users.page", "Users")]
