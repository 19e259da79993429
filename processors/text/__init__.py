"""Text in the picture: read every line (PP-OCR on ONNX Runtime), find the names in it, redact them.

- :mod:`processors.text.engine` — detection at a reduced resolution, recognition of detected lines only;
- :mod:`processors.text.det_int8` — the detector's 8-bit copy, built once per machine;
- :mod:`processors.text.regions` — each line through the name engine, name spans mapped to sub-boxes,
  and the per-channel rule (full names and pupils' family names everywhere, a lone given name only
  where that person is kept);
- :mod:`processors.text.redact` — which regions to redact on a channel, and the irreversible redaction.
"""
from processors.text.engine import TextLine, read_lines
from processors.text.regions import text_regions

__all__ = ["TextLine", "read_lines", "text_regions"]
