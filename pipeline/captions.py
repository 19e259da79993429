"""Where a caption comes from, and what each channel may say."""
from __future__ import annotations

from pathlib import Path

from processors.metadata import embedded_caption
from processors.names import scrub_caption

SIDECAR_LIMIT = 64 * 1024


def read_sidecar(photo: Path) -> tuple[str | None, Path | None]:
    """Caption from ``<photo>.txt`` or ``<photo stem>.txt`` beside the photo, if present."""
    for candidate in (photo.with_name(photo.name + ".txt"), photo.with_suffix(".txt")):
        if candidate != photo and candidate.is_file() and not candidate.is_symlink():
            try:
                with open(candidate, "rb") as fh:
                    text = fh.read(SIDECAR_LIMIT).decode("utf-8-sig", "replace").strip()
            except OSError:
                continue
            return (text or None), candidate
    return None, None


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
