"""What metadata an image file carries, for the record and for the audit.

One module per container (jpeg, png, webp, heif) and per format (exif, xmp, iptc), as mat2 does;
`inspect` chooses among them, `captions` picks the human caption. The public entry point is
`inspect_metadata`.

Nothing here ever raises on broken metadata: a damaged block is reported in
``MetadataReport.problems`` and the rest is still read.

How each kind of block is found:

* the container is walked by hand (JPEG segments, PNG chunks, WebP RIFF chunks;
  HEIF through pillow-heif), collecting the EXIF (TIFF) blocks, XMP packets,
  Photoshop/IPTC blocks, ICC profiles, comments and PNG text chunks;
* EXIF blocks are decoded with exifread (GPS, thumbnail, maker notes, serial
  numbers, owner, descriptions);
* XMP packets are also searched for in the raw bytes (``<x:xmpmeta``), which
  finds them in HEIC files and trailers too, and parsed with ElementTree,
  namespace-aware (a packet with a DTD is never parsed: no entity tricks);
* IPTC-IIM datasets are read from Photoshop "8BIM" resources.

``found`` uses these tags:

=================  ==========================================================
exif               an EXIF block is present (any tag at all)
gps                location: a GPS tag other than the bare GPSVersionID, or
                   exif:GPSLatitude/GPSLongitude in XMP
xmp                an XMP packet is present
iptc               IPTC-IIM data is present
thumbnail          an embedded preview: EXIF IFD1, JFIF/JFXX, Photoshop,
                   XMP xmpGImg or HEIF thumbnail
maker_notes        camera maker notes
comment            a JPEG COM segment or a PNG text chunk
icc_profile        an ICC colour profile
camera_serial      body or lens serial number (EXIF, maker notes, XMP)
owner              camera owner / artist / creator / IPTC by-line
caption            ``embedded_caption`` finds a caption
xmp_person_names   person names in XMP (PersonInImage, MWG or Microsoft regions)
date_taken         a sound DateTimeOriginal (or XMP/IPTC creation date)
=================  ==========================================================
"""
from processors.metadata.base import FOUND_TAGS, MetadataReport
from processors.metadata.captions import embedded_caption, is_camera_junk
from processors.metadata.inspect import inspect_metadata

__all__ = ["MetadataReport", "inspect_metadata", "embedded_caption", "is_camera_junk", "FOUND_TAGS"]
