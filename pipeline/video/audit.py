"""`pipeline audit` on a video clip: the same findings as for a photo, each face finding with the
time stamps (first and last second, and frames) of the track it is about.

Read-only, like every audit: the clip is opened for reading and analysed frame by frame in this
process (``pipeline.video.analyse``); nothing is written and nothing is cached (a clip's analysis is
not kept, so a second audit of a clip detects its faces again).
"""
from __future__ import annotations

from pipeline.video.analyse import analyse_clip, clip_tags

# What each kind of clip metadata is reported as (DESIGN.md finding kinds), and how it is described.
CLIP_METADATA = {
    "gps": ("gps", "the clip's location (QuickTime/MP4 location atoms)"),
    "dates": ("exif", "camera data: the date and time it was filmed"),
    "device": ("exif", "camera data: the phone's make and model"),
    "software": ("exif", "camera data: the software that wrote it"),
    "title": ("xmp", "description data: a title, comment or artist"),
    "user_data": ("xmp", "description data: other user data atoms"),
    "chapters": ("xmp", "description data: chapter names"),
    "other_tracks": ("xmp", "extra tracks (timed metadata, subtitles or chapters)"),
}


def audit_clip(path, ctx, channels: list[str], face_kind) -> dict:
    """``{checked, error, metadata_found, findings, faces, width, height, format, texts}`` for one clip;
    ``face_kind(match, decision, reason)`` names a face finding (the audit's own rule)."""
    analysis = analyse_clip(path, ctx=ctx)
    out = {"checked": analysis.status != "rejected", "error": None, "metadata_found": analysis.metadata_found,
           "findings": [], "faces": [], "format": "video", "width": None, "height": None, "texts": []}
    if analysis.info is not None:
        out["width"], out["height"] = analysis.info.width, analysis.info.height
    for found in analysis.metadata_found:
        if found in CLIP_METADATA:
            kind, detail = CLIP_METADATA[found]
            out["findings"] += [{"kind": kind, "channel": c, "detail": detail, "what": found} for c in channels]
    out["texts"] = [(f"clip tag {k}", v) for k, v in clip_tags(path).items() if isinstance(v, str)]
    if analysis.status == "rejected":
        out["error"] = analysis.reason.replace("Rejected: ", "the clip could not be checked: ", 1)
        return out
    for i, (face, track) in enumerate(zip(analysis.faces, analysis.tracks_json())):
        box = [int(v) for v in face["box"]]
        record = {"index": i, "box": box, "match": face["match"], "person": face.get("person"),
                  "distance": None if face.get("distance") is None else round(float(face["distance"]), 4),
                  "first_frame": track["first_frame"], "last_frame": track["last_frame"],
                  "first_time": track["first_time"], "last_time": track["last_time"], "findings": {}}
        for channel in channels:
            decision = face["decisions"].get(channel, "blur")
            reason = face["reasons"].get(channel, "")
            if decision == "keep":
                continue
            kind = face_kind(face["match"], decision, reason)
            record["findings"][channel] = kind
            out["findings"].append({
                "kind": kind, "channel": channel, "face": i, "box": box, "person": face.get("person"),
                "match": face["match"], "distance": record["distance"],
                "time": track["first_time"], "until": track["last_time"],
                "frames": [track["first_frame"], track["last_frame"]],
                "detail": f"{kind.replace('face_', '').replace('_', ' ')} from {track['first_time']:.2f} s "
                          f"to {track['last_time']:.2f} s"})
        out["faces"].append(record)
    out["findings"] += picture_name_findings(analysis.texts, channels)
    return out


def picture_name_findings(texts: list[dict], channels: list[str]) -> list[dict]:
    """``full_name_in_picture`` for a clip: one per person named (a full name, or a pupil's family
    name: what is redacted on every channel), with the box and the seconds where it was first and
    last read; by person id, never the words."""
    seen: dict[str, list[dict]] = {}
    for t in texts:
        if t.get("redacted") and t.get("kind") in ("full", "family") and t.get("why"):
            seen.setdefault(t["why"], []).append(t)
    out = []
    for person, found in seen.items():
        first, last = found[0], found[-1]
        what = "full name" if first["kind"] == "full" else "a pupil's family name"
        out += [{"kind": "full_name_in_picture", "channel": c, "box": first["box"], "person": person,
                 "time": first["time"], "until": last["time"], "frames": [first["frame"], last["frame"]],
                 "detail": f"{what} in the picture from {first['time']:.2f} s to {last['time']:.2f} s"}
                for c in channels]
    return out
