"""inspect_metadata / embedded_caption: accurate findings, never an exception."""
from __future__ import annotations

import io
import json
import random
import subprocess
import zlib
import struct

import pytest
from PIL import Image

from processors.metadata import MetadataReport, embedded_caption, inspect_metadata, is_camera_junk
from processors.output import encode_jpeg
from tests.conftest import exiftool, fixtures_dir
from tests.metadata_samples import IPTC_CAPTION, PEOPLE_IN_XMP, noisy_image, stuffed_jpeg

# The findings exiftool (the reference reader) can confirm independently.
CROSS_CHECKED = {"exif", "gps", "xmp", "iptc", "thumbnail", "maker_notes", "icc_profile", "comment"}
# The PNG specification's text keywords, as exiftool names them.
PNG_TEXT_KEYWORDS = {"Title", "Author", "Description", "Copyright", "CreationTime", "Software", "Disclaimer",
                     "Warning", "Source", "Comment"}


def exiftool_findings(path, tool: str) -> set[str]:
    return exiftool_findings_many([path], tool)[0]


def exiftool_findings_many(paths, tool: str) -> list[set[str]]:
    """Derive our finding tags from exiftool's own grouping (-G0:1), one exiftool run for all files."""
    paths = [str(p) for p in paths]
    proc = subprocess.run([tool, "-j", "-a", "-u", "-U", "-G0:1", *paths], capture_output=True,
                          text=True, check=True)
    by_file = {entry["SourceFile"]: entry for entry in json.loads(proc.stdout)}
    return [_findings(by_file[p]) for p in paths]


def _findings(tags: dict) -> set[str]:
    found = set()
    for key, value in tags.items():
        parts = key.split(":")
        group0, name = parts[0], parts[-1]
        if key == "File:Comment" or (group0 == "PNG" and name in PNG_TEXT_KEYWORDS):
            found.add("comment")
        if key == "ExifTool:Warning" and "MakerNotes" in str(value):
            found.add("maker_notes")
        if group0 in ("SourceFile", "File", "ExifTool", "Composite"):
            continue
        group1 = parts[1] if len(parts) > 2 else group0
        found.update({"EXIF": {"exif"}, "MakerNotes": {"maker_notes"}, "XMP": {"xmp"}, "IPTC": {"iptc"},
                      "ICC_Profile": {"icc_profile"}}.get(group0, set()))
        if group1 == "GPS" and name != "GPSVersionID":
            found.add("gps")
        if group0 == "XMP" and name in ("GPSLatitude", "GPSLongitude"):
            found.add("gps")
        if name in ("ThumbnailImage", "PhotoshopThumbnail", "ThumbnailTIFF"):
            found.add("thumbnail")
    return found


def report_for(path) -> MetadataReport:
    return inspect_metadata(path.read_bytes(), path.name)


def encoded(image: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


# --------------------------------------------------------------------------- real fixtures

def test_findings_agree_with_exiftool_on_every_fixture():
    tool = exiftool()
    paths = sorted(p for p in fixtures_dir("metadata").rglob("*") if p.is_file())
    assert len(paths) >= 25
    for path, expected in zip(paths, exiftool_findings_many(paths, tool)):
        got = set(report_for(path).found) & CROSS_CHECKED
        assert got == expected, (path.name, sorted(got), sorted(expected))


def test_camera_files_with_gps():
    root = fixtures_dir("metadata")
    for name in ("DSCN0010.jpg", "DSCN0012.jpg"):
        report = report_for(root / name)
        assert {"gps", "exif", "thumbnail", "maker_notes", "xmp", "date_taken"} <= set(report.found), name
        assert report.taken_date == "2008-10-22"
        # The ImageDescription is 31 spaces: no text, no caption.
        assert "exif:ImageDescription" not in report.texts
        assert embedded_caption(report) is None


def test_canon_40d_thumbnail_and_bare_gps_directory():
    report = report_for(fixtures_dir("metadata") / "Canon_40D.jpg")
    assert {"exif", "thumbnail", "icc_profile", "date_taken"} <= set(report.found)
    # Its GPS directory holds only GPSVersionID: no location, so no "gps" finding.
    # (This copy of the file carries no maker notes: GIMP dropped them, exiftool agrees.)
    assert "gps" not in report.found
    assert report.taken_date == "2008-05-30"


def test_iphone_heic():
    report = report_for(fixtures_dir("metadata") / "IMG_5195.HEIC")
    assert {"exif", "gps", "maker_notes", "xmp", "icc_profile", "date_taken"} <= set(report.found)
    assert report.taken_date == "2021-04-11"


def test_long_description_is_the_caption():
    report = report_for(fixtures_dir("metadata") / "long_description.jpg")
    description = report.texts["exif:ImageDescription"]
    assert description.startswith("Operation Mountain Viper put the soldiers of A Company")
    assert "(U.S. Army photo by Staff Sgt. Kyle Davis)" in description
    assert report.texts["exif:Artist"] == "SSG KYLE DAVIS"
    assert embedded_caption(report) == " ".join(description.split())  # runs of spaces collapsed
    assert {"caption", "owner"} <= set(report.found)


def test_camera_boilerplate_is_not_a_caption():
    root = fixtures_dir("metadata")
    olympus = report_for(root / "invalid" / "corrupted.jpg")
    assert olympus.texts["exif:ImageDescription"] == "OLYMPUS DIGITAL CAMERA"
    assert embedded_caption(olympus) is None and "caption" not in olympus.found
    painttool = report_for(root / "PaintTool_sample.jpg")
    assert len(painttool.texts["exif:UserComment"]) == 64  # a hex digest
    assert embedded_caption(painttool) is None


@pytest.mark.parametrize("text", ["OLYMPUS DIGITAL CAMERA", "SONY DSC", "   ", "\x00\x00", "DSC_0042",
                                  "IMG_1234.JPG", "KODAK Digital Still Camera", "<KENOX S630  / Samsung S630>",
                                  "Exif_JPEG_PICTURE", "0123456789abcdef0123"])
def test_is_camera_junk(text):
    assert is_camera_junk(text)


@pytest.mark.parametrize("text", ["Year 6 camera club", "Amelia at sports day", "Digital art by Year 5",
                                  "Sack race", "Photo of the choir"])
def test_real_captions_are_not_junk(text):
    assert not is_camera_junk(text)


# --------------------------------------------------------------------------- clean files

@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "HEIF"])
def test_a_fresh_file_reports_nothing(fmt):
    if fmt == "HEIF":
        pytest.importorskip("pillow_heif").register_heif_opener()
    report = inspect_metadata(encoded(noisy_image(), fmt), f"x.{fmt.lower()}")
    assert report.found == []
    assert report.texts == {} and report.person_names == [] and report.taken_date is None
    assert report.problems == []


def test_released_output_reports_nothing(tmp_path):
    path = stuffed_jpeg(tmp_path / "stuffed.jpg", exiftool())
    with Image.open(path) as im:
        im.load()
        data = encode_jpeg(im, max_edge=2048, quality=88)
    assert inspect_metadata(data).found == []


# --------------------------------------------------------------------------- synthetic, written by exiftool

def test_tag_stuffed_jpeg_finds_everything(tmp_path):
    tool = exiftool()
    path = stuffed_jpeg(tmp_path / "stuffed.jpg", tool)
    report = report_for(path)
    assert set(report.found) == {"exif", "gps", "xmp", "iptc", "thumbnail", "comment", "camera_serial", "owner",
                                 "caption", "xmp_person_names", "date_taken"}
    assert set(report.found) & CROSS_CHECKED == exiftool_findings(path, tool)
    # PersonInImage, MWG region (the pet region "Rex" is not a person), Microsoft region.
    assert report.person_names == PEOPLE_IN_XMP
    assert report.taken_date == "2026-06-12"
    texts = report.texts
    assert texts["iptc:Caption"] == IPTC_CAPTION
    assert texts["iptc:Headline"] == "Sports day"
    assert texts["iptc:Keywords"] == "sports, Zoë Brontë"
    assert texts["iptc:ByLine"] == "Mrs Jones"
    assert texts["exif:ImageDescription"] == "Year 4 sports day"
    assert texts["exif:Artist"] == "Mrs Jones"
    assert texts["exif:Copyright"] == "Oak Primary School"
    assert texts["exif:UserComment"] == "Noah Patel at the finish"
    assert texts["exif:XPComment"] == "XP comment about Noah"
    assert texts["exif:XPTitle"] == "XP title"
    assert texts["exif:XPSubject"] == "XP subject"
    assert texts["exif:XPKeywords"] == "kw1;kw2"
    assert texts["exif:CameraOwnerName"] == "Jane Jones"
    assert texts["xmp:dc:description"] == "XMP description of Amelia Hart"
    assert texts["xmp:dc:title"] == "XMP title"
    assert texts["xmp:dc:subject"] == "Amelia Hart"
    assert texts["xmp:photoshop:Headline"] == "XMP headline"
    assert texts["comment"] == "JPEG comment: Amelia"
    assert embedded_caption(report) == IPTC_CAPTION


def test_caption_order(tmp_path):
    tool = exiftool()
    path = stuffed_jpeg(tmp_path / "s.jpg", tool)
    subprocess.run([tool, "-q", "-overwrite_original", "-IPTC:Caption-Abstract=", str(path)], check=True)
    assert embedded_caption(report_for(path)) == "XMP description of Amelia Hart"
    subprocess.run([tool, "-q", "-overwrite_original", "-XMP-dc:Description=", str(path)], check=True)
    assert embedded_caption(report_for(path)) == "Year 4 sports day"
    subprocess.run([tool, "-q", "-overwrite_original", "-EXIF:ImageDescription=OLYMPUS DIGITAL CAMERA",
                    str(path)], check=True)
    assert embedded_caption(report_for(path)) == "XP comment about Noah"


def test_png_text_chunks_xmp_and_exif(tmp_path):
    tool = exiftool()
    path = tmp_path / "a.png"
    noisy_image().save(path, "PNG")
    subprocess.run([tool, "-q", "-q", "-overwrite_original", "-PNG:Comment=Amelia Hart on the climbing frame",
                    "-PNG:Author=Mrs Jones", "-XMP-iptcExt:PersonInImage=Noah Patel",
                    "-XMP-dc:Description=PNG description", "-EXIF:GPSLatitude=51.5", "-EXIF:GPSLatitudeRef=N",
                    "-EXIF:ImageDescription=EXIF in PNG", str(path)], check=True)
    report = report_for(path)
    assert {"comment", "owner", "xmp", "xmp_person_names", "exif", "gps", "caption"} <= set(report.found)
    assert set(report.found) & CROSS_CHECKED == exiftool_findings(path, tool)
    assert report.texts["png:Comment"] == "Amelia Hart on the climbing frame"
    assert report.texts["png:Author"] == "Mrs Jones"
    assert report.person_names == ["Noah Patel"]
    assert report.texts["exif:ImageDescription"] == "EXIF in PNG"
    assert embedded_caption(report) == "PNG description"


def test_png_compressed_text_chunks():
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    data = encoded(noisy_image(), "PNG")
    extra = (chunk(b"zTXt", b"Description\x00\x00" + zlib.compress(b"Zipped caption"))
             + chunk(b"iTXt", b"Title\x00\x01\x00en\x00Title\x00" + zlib.compress("Zoë’s day".encode())))
    data = data[:33] + extra + data[33:]
    report = inspect_metadata(data, "a.png")
    assert report.texts["png:Description"] == "Zipped caption"
    assert report.texts["png:Title"] == "Zoë’s day"
    assert "comment" in report.found


def test_webp_with_exif_and_xmp(tmp_path):
    tool = exiftool()
    path = tmp_path / "a.webp"
    noisy_image().save(path, "WEBP")
    subprocess.run([tool, "-q", "-q", "-overwrite_original", "-EXIF:Artist=Mrs Jones", "-GPSLatitude=51.5",
                    "-GPSLatitudeRef=N", "-XMP-iptcExt:PersonInImage=Amelia Hart", str(path)], check=True)
    report = report_for(path)
    assert {"exif", "gps", "xmp", "owner", "xmp_person_names"} <= set(report.found)
    assert set(report.found) & CROSS_CHECKED == exiftool_findings(path, tool)
    assert report.person_names == ["Amelia Hart"]


def test_heic_written_with_gps_exif():
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    exif = Image.Exif()
    exif[0x010E] = "Sports day HEIC"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (51.0, 30.0, 0.0)
    data = encoded(noisy_image(), "HEIF", exif=exif.tobytes())
    report = inspect_metadata(data, "a.heic")
    assert {"exif", "gps", "caption"} <= set(report.found)
    assert embedded_caption(report) == "Sports day HEIC"


def test_unicode_user_comment():
    exif = Image.Exif()
    ifd = exif.get_ifd(0x8769)
    ifd[0x9286] = b"UNICODE\x00" + "Zoë’s first day".encode("utf-16-be")
    data = encoded(noisy_image(), "JPEG", exif=exif.tobytes())
    report = inspect_metadata(data)
    assert report.texts["exif:UserComment"] == "Zoë’s first day"


def test_xmp_with_a_dtd_is_not_parsed():
    packet = (b'<?xpacket begin=""?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
              b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>&b;</dc:title>'
              b'</rdf:Description></rdf:RDF></x:xmpmeta>')
    data = encoded(noisy_image(), "JPEG")
    seg = b"http://ns.adobe.com/xap/1.0/\x00" + packet
    data = data[:2] + b"\xff\xe1" + struct.pack(">H", len(seg) + 2) + seg + data[2:]
    report = inspect_metadata(data)
    assert "xmp" in report.found
    assert "xmp:dc:title" not in report.texts
    assert report.problems


def test_xmp_attribute_form_and_person_details():
    packet = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              '<rdf:Description xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
              'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
              'xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/" '
              'photoshop:Headline="Headline in an attribute" photoshop:DateCreated="2024-03-01">'
              '<Iptc4xmpExt:PersonInImageWDetails><rdf:Bag><rdf:li rdf:parseType="Resource">'
              '<Iptc4xmpExt:PersonName><rdf:Alt><rdf:li xml:lang="x-default">Oliver Stone</rdf:li></rdf:Alt>'
              '</Iptc4xmpExt:PersonName></rdf:li></rdf:Bag></Iptc4xmpExt:PersonInImageWDetails>'
              '<mwg-rs:RegionInfo rdf:parseType="Resource"><mwg-rs:RegionList><rdf:Bag>'
              '<rdf:li><rdf:Description mwg-rs:Name="Isla Brook" mwg-rs:Type="Face"/></rdf:li>'
              '<rdf:li><rdf:Description mwg-rs:Name="Centre" mwg-rs:Type="Focus"/></rdf:li>'
              '</rdf:Bag></mwg-rs:RegionList></mwg-rs:RegionInfo>'
              '</rdf:Description></rdf:RDF></x:xmpmeta>').encode()
    data = encoded(noisy_image(), "PNG", pnginfo=_pnginfo_xmp(packet))
    report = inspect_metadata(data, "a.png")
    assert report.texts["xmp:photoshop:Headline"] == "Headline in an attribute"
    assert report.person_names == ["Oliver Stone", "Isla Brook"]
    assert report.taken_date == "2024-03-01"


def _pnginfo_xmp(packet: bytes):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", packet.decode(), zip=True)
    return info


def test_unsound_dates_are_ignored():
    for value, expected in (("0000:00:00 00:00:00", None), ("    :  :     :  :  ", None),
                            ("2019:02:30 10:00:00", None), ("2019:02:28 10:00:00", "2019-02-28")):
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9003] = value
        report = inspect_metadata(encoded(noisy_image(), "JPEG", exif=exif.tobytes()))
        assert report.taken_date == expected, value
        assert ("date_taken" in report.found) == (expected is not None)


# --------------------------------------------------------------------------- never raises

def test_damaged_metadata_never_raises(tmp_path):
    """Flip and cut bytes inside the metadata of real, metadata-rich files."""
    tool = exiftool()
    rich = [stuffed_jpeg(tmp_path / "s.jpg", tool).read_bytes()]
    root = fixtures_dir("metadata")
    rich += [(root / n).read_bytes() for n in ("DSCN0010.jpg", "Canon_40D.jpg", "long_description.jpg")]
    rng = random.Random(99)
    for data in rich:
        header_end = data.find(b"\xff\xda")
        for i in range(40):
            mutated = bytearray(data)
            for _ in range(rng.randint(1, 12)):
                mutated[rng.randrange(2, header_end)] = rng.randrange(256)
            if i % 4 == 3:
                mutated = mutated[: rng.randrange(2, header_end)]
            report = inspect_metadata(bytes(mutated))
            assert isinstance(report, MetadataReport)
            assert report.found == sorted(set(report.found))
    for junk in (b"", b"\xff\xd8", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBP", b"hello", bytes(1000)):
        assert isinstance(inspect_metadata(junk), MetadataReport)


def test_exif_of_a_second_picture_in_the_file_is_found():
    """Multi-picture files (MPO, phone trailers) carry a second JPEG with its own EXIF."""
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (51.0, 30.0, 0.0)
    first = encoded(noisy_image(), "JPEG")
    second = encoded(noisy_image((32, 24), seed=3), "JPEG", exif=exif.tobytes())
    assert inspect_metadata(first).found == []
    report = inspect_metadata(first + second)
    assert {"exif", "gps"} <= set(report.found)
