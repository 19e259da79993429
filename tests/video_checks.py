"""Independent readers for released clips: ffprobe, ffmpeg (frames), exiftool (tags), and an
allow-list of what they may report about a clean MP4 (structure only, no metadata)."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

# exiftool group:tag pairs a bare MP4 written from pixels carries: structure, not metadata.
# Dates must be zero ("0000:00:00 00:00:00": QuickTime's "no date").
ALLOWED_TAGS = {
    "SourceFile", "ExifTool:ExifToolVersion", "File:FileType", "File:FileTypeExtension", "File:MIMEType",
    "QuickTime:MajorBrand", "QuickTime:MinorVersion", "QuickTime:CompatibleBrands", "QuickTime:MovieHeaderVersion",
    "QuickTime:CreateDate", "QuickTime:ModifyDate", "QuickTime:TimeScale", "QuickTime:Duration",
    "QuickTime:PreferredRate", "QuickTime:PreferredVolume", "QuickTime:MatrixStructure", "QuickTime:PreviewTime",
    "QuickTime:PreviewDuration", "QuickTime:PosterTime", "QuickTime:SelectionTime", "QuickTime:SelectionDuration",
    "QuickTime:CurrentTime", "QuickTime:NextTrackID", "QuickTime:HandlerType", "QuickTime:HandlerVendorID",
    "QuickTime:MediaDataSize", "QuickTime:MediaDataOffset",
    "Composite:ImageSize", "Composite:Megapixels", "Composite:AvgBitrate", "Composite:Rotation",
}
TRACK_TAGS = {
    "TrackHeaderVersion", "TrackCreateDate", "TrackModifyDate", "TrackID", "TrackDuration", "TrackLayer",
    "TrackVolume", "MatrixStructure", "ImageWidth", "ImageHeight", "MediaHeaderVersion", "MediaCreateDate",
    "MediaModifyDate", "MediaTimeScale", "MediaDuration", "MediaLanguageCode", "HandlerType", "HandlerDescription",
    "GraphicsMode", "OpColor", "CompressorID", "SourceImageWidth", "SourceImageHeight", "XResolution",
    "YResolution", "BitDepth", "BufferSize", "MaxBitrate", "AverageBitrate", "VideoFrameRate", "Balance",
    "AudioFormat", "AudioChannels", "AudioBitsPerSample", "AudioSampleRate", "PixelAspectRatio",
}
ZERO_DATE = "0000:00:00 00:00:00"
ALLOWED_FORMAT_TAGS = {"major_brand", "minor_version", "compatible_brands"}
ALLOWED_STREAM_TAGS = {"language", "handler_name", "vendor_id"}


def need(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        pytest.skip(f"needs {tool} (Debian package {'ffmpeg' if tool.startswith('ff') else 'libimage-exiftool-perl'};"
                    " scripts/setup installs it as root)")
    return path


def exif_tags(path: Path) -> dict:
    out = subprocess.run([need("exiftool"), "-j", "-a", "-G1", "-ee", str(path)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)[0]


def exif_tags_many(paths: list[Path]) -> dict[str, dict]:
    """``exif_tags`` of several files in one exiftool run: source file -> tags."""
    out = subprocess.run([need("exiftool"), "-j", "-a", "-G1", "-ee", *map(str, paths)], capture_output=True,
                         text=True, check=True)
    return {d["SourceFile"]: d for d in json.loads(out.stdout)}


def leaked_exif(tags: dict) -> list[str]:
    """Every tag exiftool reports that is not structure, or a date that is not zero."""
    leaks = []
    for key, value in tags.items():
        group, _, name = key.partition(":")
        if group == "System" or key == "SourceFile":
            continue
        if group.startswith("Track") and name in TRACK_TAGS:
            pass
        elif key not in ALLOWED_TAGS:
            leaks.append(f"{key}={value}")
            continue
        if "Date" in name and str(value) != ZERO_DATE:
            leaks.append(f"{key}={value}")
    return leaks


def ffprobe(path: Path) -> dict:
    out = subprocess.run([need("ffprobe"), "-v", "error", "-show_format", "-show_streams", "-show_chapters",
                          "-count_frames", "-of", "json", str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def leaked_probe(info: dict) -> list[str]:
    leaks = [f"format:{k}" for k in info["format"].get("tags", {}) if k not in ALLOWED_FORMAT_TAGS]
    for s in info["streams"]:
        leaks += [f"stream{s['index']}:{k}" for k in s.get("tags", {}) if k not in ALLOWED_STREAM_TAGS]
        if s["codec_type"] not in ("video", "audio"):
            leaks.append(f"stream{s['index']}:{s['codec_type']} track")
        for sd in s.get("side_data_list", []):
            leaks.append(f"stream{s['index']}:side data {sd.get('side_data_type')}")
    leaks += [f"chapter {c.get('tags', {})}" for c in info.get("chapters", [])]
    return leaks


def video_stream(info: dict) -> dict:
    return next(s for s in info["streams"] if s["codec_type"] == "video")


def frame_times(path: Path) -> list[float]:
    out = subprocess.run([need("ffprobe"), "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "frame=best_effort_timestamp_time", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True)
    return [float(f["best_effort_timestamp_time"]) for f in json.loads(out.stdout)["frames"]
            if f.get("best_effort_timestamp_time") not in (None, "N/A")]


def decoded_frames(path: Path, every: int = 1):
    """Frames of ``path`` decoded by Debian's ffmpeg (display rotation applied), as RGB arrays."""
    info = ffprobe(path)
    v = video_stream(info)
    w, h = int(v["width"]), int(v["height"])
    rotation = 0
    for sd in v.get("side_data_list", []):
        rotation = int(sd.get("rotation", 0) or 0)
    if abs(rotation) in (90, 270):
        w, h = h, w
    out = subprocess.run([need("ffmpeg"), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24",
                          "-"], capture_output=True, check=True).stdout
    n = len(out) // (w * h * 3)
    frames = np.frombuffer(out[: n * w * h * 3], dtype=np.uint8).reshape(n, h, w, 3)
    return [(i, frames[i]) for i in range(0, n, every)]


def moov_before_mdat(path: Path) -> bool:
    """faststart: the index (moov) comes before the media data (mdat) at the top level."""
    data = path.read_bytes()
    pos, order = 0, []
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        if size == 1:
            size = int.from_bytes(data[pos + 8:pos + 16], "big")
        order.append(kind)
        if size < 8:
            break
        pos += size
    return b"moov" in order and b"mdat" in order and order.index(b"moov") < order.index(b"mdat")


def detail(rgb: np.ndarray, box) -> float:
    """Fine detail inside ``box`` (top, right, bottom, left): variance of the Laplacian of grey levels."""
    import cv2

    top, right, bottom, left = [int(v) for v in box]
    h, w = rgb.shape[:2]
    crop = rgb[max(0, top):min(h, bottom), max(0, left):min(w, right)]
    if crop.size == 0:
        return 0.0
    grey = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())
