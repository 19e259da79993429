"""Small face pictures of each enrolled reference photo, shown to the safeguarding lead beside a face
in question ("is this them?").

One thumbnail per reference encoding, tied to it in the database: when the encoding goes (forget,
biometric consent withdrawn) the thumbnail goes with it (ON DELETE CASCADE), so nothing of the
person's face outlives their reference data. Thumbnails never leave the private database.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from PIL import Image

from consent.database import migrate, now_iso, transaction

MIGRATIONS = [
    """
    CREATE TABLE reference_photos (
        encoding_id INTEGER PRIMARY KEY REFERENCES reference_encodings(id) ON DELETE CASCADE,
        person_id   TEXT NOT NULL,
        jpeg        BLOB NOT NULL,
        created_at  TEXT NOT NULL
    );
    CREATE INDEX reference_photos_person ON reference_photos(person_id);
    """,
]


def ensure_schema(conn) -> None:
    migrate(conn, "reference_photos", MIGRATIONS)


def keep_thumbnails(conn, files: list[tuple[Path, str]], *, size: int = 200) -> int:
    """Store a face thumbnail for each (photo file, person id) just enrolled; returns how many were stored."""
    from consent.enrol import MAX_EDGE, decode_photo
    from processors.output import encode_jpeg
    from processors.redact import head_region

    ensure_schema(conn)
    stored = 0
    for path, person_id in files:
        try:
            sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            continue
        row = conn.execute("SELECT id, box FROM reference_encodings WHERE person_id=? AND source_sha256=?",
                           (person_id, sha)).fetchone()
        if row is None:
            continue
        photo = decode_photo(Path(path), MAX_EDGE)
        image = Image.fromarray(photo.rgb)
        crop = image.crop(head_region(tuple(json.loads(row["box"])), image.size, 0.3))
        jpeg = encode_jpeg(crop, max_edge=size, quality=85)
        with transaction(conn):
            conn.execute("INSERT OR REPLACE INTO reference_photos(encoding_id, person_id, jpeg, created_at) "
                         "VALUES (?,?,?,?)", (row["id"], person_id, jpeg, now_iso()))
        stored += 1
    return stored


def reference_photo(conn, person_id: str) -> bytes | None:
    """The newest reference thumbnail of a person still enrolled, or None."""
    ensure_schema(conn)
    row = conn.execute(
        "SELECT r.jpeg FROM reference_photos r JOIN reference_encodings e ON e.id = r.encoding_id "
        "JOIN people p ON p.person_id = e.person_id WHERE e.person_id=? AND p.forgotten_at IS NULL "
        "ORDER BY r.encoding_id DESC LIMIT 1", (person_id,)).fetchone()
    return None if row is None else bytes(row[0])


def people_with_photos(conn) -> set[str]:
    ensure_schema(conn)
    return {r[0] for r in conn.execute("SELECT DISTINCT person_id FROM reference_photos")}


__all__ = ["ensure_schema", "keep_thumbnails", "reference_photo", "people_with_photos"]
