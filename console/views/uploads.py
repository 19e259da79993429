"""/upload and /uploads: staff send photos into their inbox folder and see what became of their own."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, render_template, request, url_for

from console.views._common import done
from pipeline.errors import UserError
from pipeline.intake.uploads import save_upload, uploads_of

bp = Blueprint("uploads", __name__)


@bp.get("/upload")
def form():
    return render_template("upload.html")


@bp.post("/upload")
def send():
    files = [f for f in request.files.getlist("files") if f and f.filename]
    wants_json = request.accept_mimetypes.best == "application/json"
    if not files:
        if wants_json:
            return jsonify({"saved": [], "errors": ["Choose one or more photos first."]}), 400
        return done("Choose one or more photos first.", url_for("uploads.form"), ok=False)
    saved, errors = [], []
    for f in files:
        try:
            saved.append(save_upload(g.ws, g.user.name, f.filename, f.read())["name"])
        except UserError as exc:
            errors.append(str(exc))
    if wants_json:
        return jsonify({"saved": saved, "errors": errors}), (200 if saved else 400)
    text = f"Received {len(saved)} file(s): {', '.join(saved)}." if saved else "Nothing was received."
    if errors:
        text += " Not received: " + " ".join(errors)
    return done(text + (" See 'My uploads' for what happens to them." if saved else ""),
                url_for("uploads.mine") if saved else url_for("uploads.form"), ok=not errors)


@bp.get("/uploads")
def mine():
    return render_template("uploads.html", items=uploads_of(g.ws, g.user.name))
