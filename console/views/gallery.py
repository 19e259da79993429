"""/approved/<channel>: released photos for the comms lead — thumbnails, download, zip, mark posted."""
from __future__ import annotations

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for

from console.views._common import done, page_number, whole_number
from pipeline.delivery import gallery
from pipeline.errors import UserError
from pipeline.consent_changes.propagate import list_takedowns

bp = Blueprint("gallery", __name__)


def _channel_or_404(channel: str) -> None:
    if channel not in g.ws.config.channels:
        abort(404)


@bp.get("/approved")
def index():
    return redirect(url_for("gallery.channel", channel=g.ws.config.channels[0]))


@bp.get("/approved/<channel>")
def channel(channel: str):
    _channel_or_404(channel)
    data = gallery.approved_page(g.ws, channel, page=page_number(request.args.get("page")))
    return render_template("gallery.html", data=data, channels=g.ws.config.channels,
                           takedowns=list_takedowns(g.ws))


@bp.get("/approved/<channel>/<int:output_id>/thumb.jpg")
def thumb(channel: str, output_id: int):
    _channel_or_404(channel)
    try:
        data = gallery.thumbnail(g.ws, channel, output_id)
    except UserError:
        abort(404)
    # no-cache: the browser asks every time before showing its copy, so a photo taken back never shows from
    # its cache; asking is cheap (an ETag answered with 304 Not Modified)
    resp = Response(data, mimetype="image/jpeg", headers={"Cache-Control": "private, no-cache"})
    resp.add_etag()
    return resp.make_conditional(request)


@bp.get("/approved/<channel>/<int:output_id>/download")
def download(channel: str, output_id: int):
    _channel_or_404(channel)
    try:
        name, data = gallery.hand_out(g.ws, channel, output_id, actor=g.user.name)
    except UserError:
        abort(404)
    return Response(data, mimetype="image/jpeg",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@bp.post("/approved/<channel>/zip")
def zip(channel: str):  # noqa: A001 - the route's name
    _channel_or_404(channel)
    ids = [whole_number(i) for i in request.form.getlist("output")]
    if None in ids:
        return done("Nothing was downloaded: the ticked photos were not understood. Reload the page and tick "
                    "them again.", url_for("gallery.channel", channel=channel), ok=False)
    try:
        name, data = gallery.hand_out_zip(g.ws, channel, ids, actor=g.user.name)
    except UserError as exc:
        return done(str(exc), url_for("gallery.channel", channel=channel), ok=False)
    return Response(data, mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@bp.post("/approved/<channel>/<int:output_id>/posted")
def posted(channel: str, output_id: int):
    _channel_or_404(channel)
    page = page_number(request.form.get("page"))
    back = url_for("gallery.channel", channel=channel, page=page) + f"#photo-{output_id}"
    try:
        gallery.mark_posted(g.ws, channel, output_id, actor=g.user.name)
    except UserError as exc:
        return done(str(exc), back, ok=False)
    return done(f"Marked as posted on {channel}.", back)


@bp.get("/not-released")
def not_released():
    return render_template("not_released.html", items=gallery.not_released(g.ws), takedowns=list_takedowns(g.ws))
