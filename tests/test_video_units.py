"""Video clips, piece by piece: which files are clips, what is rejected and why, tracking across
frames (gaps, hold, cuts), how a track's frames combine into one identity, `[video]` settings, the
watcher taking a clip, and sound dropped when configured. No fixtures needed: clips are drawn here."""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from consent.matching import Match
from pipeline.video.identify import combine
from processors.video.probe import RejectedClip, is_clip, looks_like_clip, probe_clip
from processors.video.tracking import CutDetector, Track, Tracker, track_boxes
from tests import video_checks as vc
from tests import video_clips as clips
from tests.conftest import json_lines


def gradient_frames(n: int, size=(160, 96)):
    w, h = size
    for i in range(n):
        x = np.broadcast_to(np.linspace(0, 255, w, dtype=np.float32)[None, :], (h, w))
        y = np.broadcast_to(np.linspace(0, 255, h, dtype=np.float32)[:, None], (h, w))
        yield np.clip(np.stack([x + i, y, (x + y) / 2], axis=2), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- recognising and rejecting

def test_clips_recognised_by_content(tmp_path):
    mp4 = clips.write_clip(tmp_path / "a.mp4", gradient_frames(5))
    mov = clips.write_clip(tmp_path / "a.mov", gradient_frames(5))
    assert is_clip(mp4.read_bytes()) and is_clip(mov.read_bytes())
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\0" * 40
    assert not is_clip(heic) and not looks_like_clip(b"\xff\xd8\xff\xe0" + b"\0" * 60)


def test_probe_reads_rotation_duration_and_rate(tmp_path):
    path = clips.set_rotation(clips.write_clip(tmp_path / "r.mov", gradient_frames(20), fps=10), 90)
    info = probe_clip(path, max_seconds=180, max_pixels=10**8)
    assert (info.width, info.height, info.rotation) == (96, 160, 90)
    assert info.frames == 20 and abs(info.duration - 2.0) < 0.01 and info.frame_rate == Fraction(10)


@pytest.mark.parametrize("kind", ["mpeg4", "too_long", "truncated", "audio_only", "too_many_pixels"])
def test_rejected_with_a_reason(tmp_path, kind):
    import av

    path = tmp_path / "clip.mp4"
    if kind == "mpeg4":
        clips.write_clip(path, gradient_frames(5), codec="mpeg4")
        want = "only H.264 or HEVC"
    elif kind == "too_long":
        clips.write_clip(path, gradient_frames(40), fps=10)
        want = "max_seconds"
    elif kind == "truncated":
        clips.write_clip(tmp_path / "full.mp4", gradient_frames(30))
        data = (tmp_path / "full.mp4").read_bytes()
        path.write_bytes(data[: len(data) // 2])
        want = "damaged or incomplete"
    elif kind == "audio_only":
        out = av.open(str(path), "w", format="mp4")
        a = out.add_stream("aac", rate=44100)
        a.layout = "mono"
        for i in range(20):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            f.sample_rate, f.pts = 44100, i * 1024
            for p in a.encode(f):
                out.mux(p)
        for p in a.encode(None):
            out.mux(p)
        out.close()
        want = "no picture"
    else:
        clips.write_clip(path, gradient_frames(3))
        want = "too large"
    with pytest.raises(RejectedClip) as err:
        info = probe_clip(path, max_seconds=3, max_pixels=10**4 if kind == "too_many_pixels" else 10**8)
        from processors.video.frames import frames

        got = sum(1 for _ in frames(path, info))
        if got < info.frames:
            raise RejectedClip(f"damaged or incomplete ({got} of {info.frames})")
    assert want in err.value.reason


# --------------------------------------------------------------------------- tracking

def test_tracker_follows_a_moving_face_and_separates_two():
    t = Tracker(max_gap=5)
    for f in range(10):
        t.update(f, [(100, 60 + 8 * f, 150, 10 + 8 * f), (100, 400, 150, 350)])
    tracks = t.finish()
    assert len(tracks) == 2 and all(len(tr.boxes) == 10 for tr in tracks)


def test_gap_is_covered_by_the_union_and_hold_and_lead_extend():
    tr = Track(0, boxes={10: (0, 50, 40, 10), 14: (0, 90, 40, 50)})
    boxes = track_boxes(tr, hold=3, lead=2, frames=100)
    assert set(boxes) == set(range(8, 18))
    assert boxes[12] == (0, 90, 40, 10)             # the whole path between the two detections
    top, right, bottom, left = boxes[17]             # held after the last one, grown
    assert left < 50 and right > 90 and top < 0 and bottom > 40
    assert 7 not in boxes and 18 not in boxes


def test_a_cut_ends_every_track():
    t = Tracker()
    t.update(0, [(10, 60, 60, 10)])
    t.cut()
    t.update(1, [(10, 60, 60, 10)])
    assert [len(x.boxes) for x in t.finish()] == [1, 1]
    cuts = CutDetector()
    a = np.zeros((90, 160, 3), np.uint8)
    b = np.full((90, 160, 3), 200, np.uint8)
    assert [cuts.is_cut(x) for x in (a, a, b, b)] == [False, False, True, False]


# --------------------------------------------------------------------------- identity of a track

def m(kind, pid=None, d=None, cands=()):
    return Match(kind, pid, d, tuple(cands))


def test_frames_that_agree_identify():
    got, q = combine([m("identified", "P", 0.4, [("P", 0.4)]), m("uncertain", "P", 0.55, [("P", 0.55)]),
                      m("unknown")])
    assert (got.match, got.person_id, q) == ("identified", "P", [])


def test_frames_that_disagree_are_uncertain():
    got, q = combine([m("identified", "P", 0.4, [("P", 0.4)]), m("identified", "Q", 0.45, [("Q", 0.45)])])
    assert got.match == "uncertain" and q == [0, 1]
    got, _ = combine([m("uncertain", "P", 0.55, [("P", 0.55)])] * 3)
    assert got.match == "uncertain"
    got, _ = combine([m("identified", "P", 0.4, [("P", 0.4)])] + [m("unknown", None, 0.8)] * 3)
    assert got.match == "uncertain"   # most frames with a face descriptor match nobody


def test_never_publish_candidate_in_one_frame_is_kept():
    from consent.policy import decide_face

    class Person:
        def __init__(self, never):
            self.never_publish, self.forgotten = never, False

        def effective_status(self, channel, today):
            return "granted"

    got, _ = combine([m("identified", "P", 0.4, [("P", 0.4)])] * 5 + [m("identified", "P", 0.45, [("P", 0.45), ("R", 0.58)])])
    assert ("R", 0.58) in got.candidates
    fd = decide_face(got, {"P": Person(False), "R": Person(True)}, ["website"], None)
    assert fd.decisions == {"website": "block"}


def test_no_descriptor_is_unknown():
    assert combine([m("unknown"), m("unknown")])[0].match == "unknown"


# --------------------------------------------------------------------------- settings, watcher, sound

def test_video_settings_checked(tmp_path):
    from pipeline.config import ConfigError, load_config

    assert load_config(None)["video"] == {"max_seconds": 180, "audio": "keep"}
    bad = tmp_path / "pipeline.toml"
    bad.write_text('[video]\naudio = "mute"\n')
    with pytest.raises(ConfigError, match="keep, drop"):
        load_config(bad)


def test_watcher_takes_a_clip_and_sound_can_be_dropped(workspace, cli):
    (workspace / "pipeline.toml").write_text((workspace / "pipeline.toml").read_text().replace(
        'audio = "keep"', 'audio = "drop"'))
    clip = clips.write_clip(workspace / "inbox" / "sports day.mov", gradient_frames(12), fps=12, audio=True)
    assert clip.exists()
    r = cli("watch", "--once", workspace=workspace)
    assert r.exit_code == 0, r.output
    conn = __import__("sqlite3").connect(workspace / "pipeline.db")
    status, result = conn.execute("SELECT status, result_json FROM jobs").fetchone()
    rec = json.loads(result)
    assert status == "released", rec["reason"]
    assert not clip.exists() and rec["media"] == "video" and rec["tracks"] == []
    out = workspace / rec["outputs"]["website"]
    info = vc.ffprobe(out)
    assert [s["codec_type"] for s in info["streams"]] == ["video"]
    assert vc.leaked_probe(info) == []


def test_rejected_clip_goes_to_quarantine_with_its_reason(workspace, cli, tmp_path):
    clips.write_clip(tmp_path / "full.mp4", gradient_frames(30))
    data = (tmp_path / "full.mp4").read_bytes()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "broken.mp4").write_bytes(data[: len(data) // 2])
    clips.write_clip(tmp_path / "in" / "old.mp4", gradient_frames(5), codec="mpeg4")
    r = cli("process", str(tmp_path / "in"), "--json", workspace=workspace)
    assert r.exit_code == 1
    recs = {Path(x["source"]).name: x for x in json_lines(r.stdout)}
    assert recs["broken.mp4"]["status"] == "rejected" and "damaged or incomplete" in recs["broken.mp4"]["reason"]
    assert recs["old.mp4"]["status"] == "rejected" and "H.264" in recs["old.mp4"]["reason"]
    for rec in recs.values():
        q = list((workspace / "quarantine").glob(f"{rec['job_id']}_*.reason.txt"))
        assert q and rec["reason"] in q[0].read_text()
