"""Small helpers the views share: an image response that is never cached, flash-and-redirect."""
from __future__ import annotations

from flask import Response, flash, redirect


def private_image(data: bytes) -> Response:
    """A JPEG that no browser or proxy may keep (children's faces)."""
    return Response(data, mimetype="image/jpeg",
                    headers={"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"})


def done(message: str, target: str, *, ok: bool = True):
    flash(message, "ok" if ok else "error")
    return redirect(target, code=303)
