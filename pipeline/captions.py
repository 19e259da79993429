"""Where a caption comes from, and what each channel may say."""
from __future__ import annotations

from pathlib import Path

from processors.caption_text import SIDECAR_LIMIT, CaptionRefused, decode_caption
from processors.metadata import embedded_caption
from processors.names import scrub_caption



def read_sidecar(photo: Path) -> tuple[str | None, Path | None]:
    """Caption from ``<photo>.txt`` or ``<photo stem>.txt`` beside the photo, if present and readable."""
    text, path, _ = read_sidecar_checked(photo)
    return text, path


def read_sidecar_checked(photo: Path) -> tuple[str | None, Path | None, str | None]:
    """``(caption, sidecar path, why it was refused)``: a refused sidecar (binary, over 64 KiB, an
    encoding that cannot be told for sure) gives no caption and a reason, and the photo is held."""
    for candidate in (photo.with_name(photo.name + ".txt"), photo.with_suffix(".txt")):
        if candidate != photo and candidate.is_file() and not candidate.is_symlink():
            try:
                with open(candidate, "rb") as fh:
                    data = fh.read(SIDECAR_LIMIT + 1)
            except OSError as exc:
                return None, candidate, f"the caption file could not be read ({exc.strerror or exc})"
            try:
                caption = decode_caption(data)
            except CaptionRefused as exc:
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
