"""Analyse one clip (no side effects): check it, find faces on every frame, follow them as tracks,
identify each track and decide it on every channel, as for a photo; read the text in the picture
TEXT_PER_SECOND times a second, and hold a clip in which a name is legible for review (text in a
clip is not redacted: it moves between the frames read).

Frames stream: one frame is decoded, searched and dropped at a time; only the poster frame and one
frame per track in question (for the review) are kept, reduced to at most ``KEEP_EDGE`` pixels.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from consent.policy import FaceDecision, decide_face, image_status
from pipeline.errors import unchecked_reason
from pipeline.video.identify import combine
from pipeline.video.render import reduced
from processors.face_detect import DetectOptions, detect
from processors.face_encode import encode_detections
from processors.video.frames import frames as clip_frames
from processors.video.probe import ClipInfo, RejectedClip, probe_clip
from processors.video.tracking import CutDetector, Track, Tracker

log = logging.getLogger(__name__)

# The detector's passes for tilted heads (turned ±25°) run on every TURNED_EVERY-th frame (and on the
# first frame after a cut); the upright pass runs on every frame. Tracks fill the frames between.
TURNED_EVERY = 4
SAMPLES_PER_SECOND = 5.0     # frames of a track encoded and matched, per second of the track
FIRST_SAMPLES = 4            # ... and every one of its first frames
KEEP_EDGE = 960              # kept frames (poster, frames in question) are reduced to this long edge
MAX_QUESTION_FRAMES = 24
# Frames read for text (names on certificates, badges, shirts, displays), per second, and always the
# first frame and the first after a cut. Measured on benchmarks/video.py's clips (4 s at 30 fps):
# 1-2 % of a clip's time at 720p and 1080p.
TEXT_PER_SECOND = 2.0


@dataclass
class ClipAnalysis:
    status: str
    reason: str
    faces: list[dict] = field(default_factory=list)    # one per track, as for a photo (box = its largest detection)
    tracks: list[Track] = field(default_factory=list)
    info: ClipInfo | None = None
    frames: int = 0
    times: list[float] = field(default_factory=list)   # seconds of each frame
    metadata_found: list[str] = field(default_factory=list)
    taken_date: str | None = None
    poster: np.ndarray | None = None                    # the poster frame (upright, reduced)
    poster_index: int = 0
    questions: dict[int, tuple[int, np.ndarray]] = field(default_factory=dict)  # track -> (frame, pixels)
    # Text regions read on sampled frames: (frame, seconds, TextRegion list) while analysing; then
    # ``texts``, record entries (box, decisions, why: a person id, frame, time) of those that name
    # someone on some channel. Never the text itself.
    text_found: list = field(default_factory=list)
    texts: list[dict] = field(default_factory=list)
    # Frame index -> pixels (reduced to KEEP_EDGE) of the first frame with a region naming someone in
    # full and of the first with a given name alone: the held clip's review preview shows one of them
    # with the regions outlined, so the reviewer sees what is legible where.
    text_frames: dict[int, np.ndarray] = field(default_factory=dict)
    kind: str = "video"
    image: None = None
    metadata: None = None
    scale: float = 1.0

    @property
    def size(self) -> tuple[int, int] | None:
        return (self.info.width, self.info.height) if self.info else None

    def faces_on_image(self) -> list[dict]:
        return self.faces

    def public(self) -> dict:
        from pipeline.analyse import face_json

        return {"status": self.status, "reason": self.reason, "faces": [face_json(f) for f in self.faces],
                "outputs": {}, "captions": {}, "metadata_found": list(self.metadata_found),
                "media": "video", "clip": self.clip_json(), "tracks": self.tracks_json(),
                "texts": [dict(t) for t in self.texts]}

    def clip_json(self) -> dict | None:
        if self.info is None:
            return None
        return {"width": self.info.width, "height": self.info.height, "rotation": self.info.rotation,
                "codec": self.info.codec, "frames": self.frames, "duration": round(self.info.duration, 3),
                "frame_rate": round(float(self.info.frame_rate), 3), "audio": self.info.audio_codec is not None,
                "poster_frame": self.poster_index}

    def tracks_json(self) -> list[dict]:
        from pipeline.video.tracks import track_json

        return [track_json(t, f, self.times) for t, f in zip(self.tracks, self.faces)]


def analyse_clip(path: Path | str, *, ctx, progress=None) -> ClipAnalysis:
    """Analyse the clip at ``path``; never raises for a bad clip (``rejected`` with a reason)."""
    cfg = ctx.ws.config
    limits, vcfg = cfg["limits"], cfg["video"]
    try:
        info = probe_clip(path, max_seconds=float(vcfg["max_seconds"]),
                          max_pixels=int(limits["max_megapixels"] * 1_000_000))
    except RejectedClip as exc:
        return ClipAnalysis("rejected", f"Rejected: {exc.reason}")
    found, taken = clip_metadata(path)
    try:
        result = _search(path, info, ctx, progress)
    except RejectedClip as exc:
        return ClipAnalysis("rejected", f"Rejected: {exc.reason}", info=info, metadata_found=found)
    except Exception as exc:  # never release what we could not check
        log.exception("face analysis failed for %s", path)
        return ClipAnalysis("rejected", unchecked_reason("clip", exc), info=info, metadata_found=found)
    result.info, result.metadata_found, result.taken_date = info, found, taken
    decide_tracks(result, ctx)
    return result


def _search(path, info: ClipInfo, ctx, progress) -> ClipAnalysis:
    from pipeline.text_in_picture import enabled as reads_text, frame_texts

    faces_cfg = ctx.ws.config["faces"]
    poster_edge = int(ctx.ws.config["output"]["max_edge"])  # the poster is released at the clip's size
    full = DetectOptions(detector=faces_cfg["detector"])
    upright_only = replace(full, angles=())
    min_size = faces_cfg["min_recognisable_size"]
    tolerances = ctx.tolerances
    rate = float(info.frame_rate) or 25.0
    sample_every = max(1, int(round(rate / SAMPLES_PER_SECOND)))
    text_every = max(1, int(round(rate / TEXT_PER_SECOND))) if reads_text(ctx.ws.config) else 0
    text_found: list = []
    text_frames: dict[str, tuple[int, np.ndarray]] = {}  # rule -> (frame, pixels)
    last_text = None
    tracker = Tracker(max_gap=max(5, int(round(rate / 2))))
    cuts = CutDetector()
    last_sample: dict[int, int] = {}
    first_person: dict[int, str] = {}
    questions: dict[int, tuple[int, np.ndarray]] = {}   # id(track) -> (frame, pixels)
    times: list[float] = []
    poster_at = min(info.frames - 1, max(0, int(round(min(1.0, info.duration / 3) * rate))))
    poster, poster_index = None, 0
    n = 0
    since_turned = TURNED_EVERY
    for frame in clip_frames(path, info):
        rgb = frame.rgb
        cut = cuts.is_cut(rgb)
        if cut:
            tracker.cut()
        turned = cut or n == 0 or since_turned >= TURNED_EVERY - 1
        since_turned = 0 if turned else since_turned + 1
        detections = detect(rgb, full if turned else upright_only)
        tracks = tracker.update(frame.index, [d.box for d in detections])
        # A young track is matched on each of its first frames (a pupil seen for a moment is still
        # looked at closely), then SAMPLES_PER_SECOND times a second.
        chosen = [i for i, t in enumerate(tracks)
                  if len(t.samples) < FIRST_SAMPLES or frame.index - last_sample[id(t)] >= sample_every]
        if chosen:
            encodings = encode_detections(rgb, [detections[i] for i in chosen], min_size)
            for i, enc in zip(chosen, encodings):
                t = tracks[i]
                t.samples.append((frame.index, enc))
                last_sample[id(t)] = frame.index
                m = ctx.gallery.match(enc, tolerances)
                if m.match == "identified":
                    first_person.setdefault(id(t), m.person_id)
                odd = (m.match == "uncertain" or _never_publish_near(m, ctx.people)
                       or (m.match == "identified" and first_person[id(t)] != m.person_id))
                # One frame per track for the review: its first frame in question, else its first one.
                kept = questions.get(id(t))
                if (kept is None and len(questions) < MAX_QUESTION_FRAMES) or (odd and kept and not kept[2]):
                    questions[id(t)] = (frame.index, _reduced(rgb), odd)
        if text_every and (cut or last_text is None or frame.index - last_text >= text_every):
            last_text = frame.index
            regions = frame_texts(rgb, ctx)
            if regions:
                text_found.append((frame.index, frame.time, regions))
                for rule in {r.rule for r in regions} - {"keep"} - set(text_frames):
                    text_frames[rule] = (frame.index, _reduced(rgb))
        if poster is None or frame.index == poster_at:
            poster, poster_index = reduced(rgb, poster_edge), frame.index
        times.append(frame.time)
        n += 1
        if progress is not None:
            progress(n, info.frames)
    if n < info.frames - max(2, 0.02 * info.frames):
        raise RejectedClip(f"The clip is damaged or incomplete (only {n} of its {info.frames} frames could be "
                           "decoded) — copy it again from the phone.")
    if n == 0:
        raise RejectedClip("The clip is damaged or incomplete (no frame could be decoded) — copy it again from the phone.")
    tracks = tracker.finish()
    return ClipAnalysis("released", "", tracks=tracks, frames=n, times=times, poster=poster,
                        poster_index=poster_index, text_found=text_found, text_frames=dict(text_frames.values()),
                        questions={t.id: questions[id(t)][:2] for t in tracks if id(t) in questions})


def _never_publish_near(match, people) -> bool:
    ids = [p for p, _ in match.candidates] + ([match.person_id] if match.person_id else [])
    return any(people.get(p) is not None and people[p].never_publish for p in ids)


def _reduced(rgb: np.ndarray) -> np.ndarray:
    return reduced(rgb, KEEP_EDGE)


def decide_tracks(result: ClipAnalysis, ctx, confirmed: dict[int, str] | None = None) -> None:
    """Identify every track from its sampled frames and decide it per channel; then the clip's status."""
    cfg = ctx.ws.config
    unknown_action = cfg["faces"]["unknown"]
    faces = []
    for i, track in enumerate(result.tracks):
        matches = [ctx.gallery.match(enc, ctx.tolerances) for _, enc in track.samples]
        match, in_question = combine(matches)
        who = (confirmed or {}).get(i)
        fd = decide_face(match, ctx.people, ctx.channels, ctx.today(), unknown_action=unknown_action, confirmed=who)
        best = max(track.boxes.items(), key=lambda kv: (kv[1][2] - kv[1][0]) * (kv[1][1] - kv[1][3]))
        encoding = _representative(track, matches, match)
        person = match.person_id if who is None else (None if who == "unknown" else who)
        faces.append({"box": best[1], "frame": best[0], "encoding": encoding, "person": person,
                      "distance": match.distance, "match": match.match, "candidates": list(match.candidates),
                      "decisions": fd.decisions, "reasons": fd.reasons,
                      "frames_in_question": sorted({track.samples[k][0] for k in in_question}),
                      "samples": len(track.samples)})
    result.faces = faces
    status, reason = image_status([FaceDecision(f["decisions"], f["reasons"]) for f in faces], ctx.channels,
                                  release_when_all_blurred=cfg["channels"]["release_when_all_blurred"])
    n = len(result.tracks)
    result.reason = f"{reason} — {n} face track{'s' if n != 1 else ''} over {result.frames} frames" if n else reason
    if result.text_found:
        from pipeline.text_in_picture import clip_text_reason, clip_texts

        result.texts = clip_texts(result.text_found, faces, ctx)
        if result.texts and status != "blocked":
            status, result.reason = "review", f"{clip_text_reason(result.texts)}; {result.reason}"
    result.status = status


def _representative(track: Track, matches, match):
    """The descriptor stored for the track: the sample closest to the person it matched, else the first one."""
    with_enc = [(m, enc) for m, (_, enc) in zip(matches, track.samples) if enc is not None]
    if not with_enc:
        return None
    if match.person_id:
        same = [(m.distance, enc) for m, enc in with_enc if m.person_id == match.person_id and m.distance is not None]
        if same:
            return min(same, key=lambda x: x[0])[1]
    return with_enc[0][1]


def clip_tags(path) -> dict[str, str]:
    """Every container and stream tag of a clip (for the audit's name search); {} if unreadable."""
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            tags = dict(c.metadata)
            for s in c.streams:
                tags.update({f"stream{s.index}:{k}": v for k, v in s.metadata.items()})
            for n, ch in enumerate(c.chapters()):
                for k, v in (ch.get("metadata") or {}).items():
                    tags[f"chapter{n}:{k}"] = v
            return tags
    except Exception:
        return {}


def clip_metadata(path) -> tuple[list[str], str | None]:
    """What kinds of metadata the clip carries (for the record: never copied to an output), and the
    date it was filmed (private, like a photo's taken date)."""
    import av

    found: set[str] = set()
    taken = None
    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            tags = dict(c.metadata)
            for s in c.streams:
                tags.update({f"stream:{k}": v for k, v in s.metadata.items()})
                if s.type not in ("video", "audio"):
                    found.add("other_tracks")
            if c.chapters():
                found.add("chapters")
    except Exception:
        return [], None
    for key, value in tags.items():
        k = key.lower().split(":", 1)[-1]
        if k in ("major_brand", "minor_version", "compatible_brands", "language", "handler_name", "vendor_id",
                 "encoder", "rotate"):
            if k == "encoder":
                found.add("software")
            continue
        if "location" in k or "gps" in k or k.endswith("xyz"):
            found.add("gps")
        elif "date" in k or "time" in k:
            found.add("dates")
            if taken is None and isinstance(value, str) and len(value) >= 10 and value[:4].isdigit():
                taken = value[:10]
        elif "make" in k or "model" in k:
            found.add("device")
        elif "software" in k or "encoder" in k:
            found.add("software")
        elif k in ("title", "comment", "description", "artist", "author", "album", "keywords", "synopsis") \
                or "title" in k or "description" in k:
            found.add("title")
        else:
            found.add("user_data")
    return sorted(found), taken
