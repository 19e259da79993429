"""Where a caption comes from, and what each channel may say."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from processors.caption_text import SIDECAR_LIMIT, CaptionRefused, decode_caption
from processors.gate import Refused, display, fits_name_max, read_capped
from processors.metadata import embedded_caption
from processors.names import scrub_caption

log = logging.getLogger(__name__)


def sidecar_candidates(photo: Path) -> list[Path]:
    """``<photo>.txt`` and ``<photo stem>.txt``, leaving out any name longer than the file system allows
    (never built, never looked up: a 251-byte photo name has no ``.jpg.txt`` sidecar)."""
    out = []
    for name in (photo.name + ".txt", photo.stem + ".txt"):
        if fits_name_max(name) and name != photo.name:
            out.append(photo.with_name(name))
    return out


def read_sidecar(photo: Path) -> tuple[str | None, Path | None]:
    """Caption from ``<photo>.txt`` or ``<photo stem>.txt`` beside the photo, if present and readable."""
    text, path, _ = read_sidecar_checked(photo)
    return text, path


def read_sidecar_checked(photo: Path) -> tuple[str | None, Path | None, str | None]:
    """``(caption, sidecar path, why it was refused)``.

    Read through the gate: a regular file, not a link (a link or special file is not read and
    gives no caption). Decoded by ``processors.caption_text``: a sidecar larger than
    ``SIDECAR_LIMIT``, binary (NUL or control bytes), damaged, or in an encoding that cannot be told
    for sure gives no caption and a reason - the photo is then held for review, so a caption
    mangled by a wrong guess is never released.
    """
    for candidate in sidecar_candidates(photo):
        if not os.path.lexists(candidate):
            continue
        try:
            raw, more = read_capped(candidate, root=candidate.parent, limit=SIDECAR_LIMIT + 1)
        except Refused as exc:
            log.info("caption %s not read: %s", display(candidate), exc.why)
            continue
        try:
            caption = decode_caption(raw + (b"x" if more else b""))
        except CaptionRefused as exc:
            log.info("caption %s not used: %s", display(candidate), exc)
            return None, candidate, str(exc)
        return (caption.text or None), candidate, None
    return None, None, None


def channel_captions(caption: str | None, analysis, ctx, config) -> dict[str, str]:
    """The caption for each channel: no full names; names of people redacted there removed entirely."""
    text = caption if caption else (embedded_caption(analysis.metadata) if analysis.metadata else None)
    if not text:
        return {}
    mode = config["captions"]["names"]
    captions = {}
    for channel in ctx.channels:
        kept = {f["person"] for f in analysis.faces
                if f.get("person") and f["decisions"].get(channel) == "keep"}
        captions[channel] = scrub_caption(text, ctx.named, keep_given=kept, mode=mode)
    return captions
