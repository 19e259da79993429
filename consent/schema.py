"""Register tables. Append new migrations at the end; never edit an applied one."""

MIGRATIONS = [
    # 1: people, per-channel consent with history, reference encodings, audit trail
    """
    CREATE TABLE people (
        person_id     TEXT PRIMARY KEY,
        given_name    TEXT,              -- NULL once forgotten
        family_name   TEXT,              -- NULL once forgotten
        grp           TEXT NOT NULL DEFAULT '',
        role          TEXT NOT NULL DEFAULT 'pupil' CHECK (role IN ('pupil','staff')),
        expires       TEXT,              -- ISO date, last day consent is valid; NULL = no expiry
        never_publish INTEGER NOT NULL DEFAULT 0,
        forgotten_at  TEXT,              -- set by `consent forget`: a nameless tombstone
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
    );
    CREATE TABLE consents (
        person_id  TEXT NOT NULL REFERENCES people(person_id),
        channel    TEXT NOT NULL,
        status     TEXT NOT NULL CHECK (status IN ('granted','refused','withdrawn')),
        expires    TEXT,                 -- optional per-channel expiry (ISO date)
        updated_at TEXT NOT NULL,
        PRIMARY KEY (person_id, channel)
    );
    CREATE TABLE consent_history (
        id         INTEGER PRIMARY KEY,
        at         TEXT NOT NULL,
        person_id  TEXT NOT NULL,
        channel    TEXT,                 -- NULL for person-level changes
        field      TEXT NOT NULL,        -- status | expires | never_publish | name | forgotten ...
        old_value  TEXT,
        new_value  TEXT,
        reason     TEXT NOT NULL,
        actor      TEXT NOT NULL
    );
    CREATE TABLE reference_encodings (
        id            INTEGER PRIMARY KEY,
        person_id     TEXT NOT NULL REFERENCES people(person_id),
        source_name   TEXT NOT NULL,     -- file name of the reference photo
        source_sha256 TEXT NOT NULL,
        box           TEXT NOT NULL,     -- JSON [top,right,bottom,left]
        encoding      BLOB NOT NULL,     -- 128 float64, little endian
        created_at    TEXT NOT NULL,
        UNIQUE (person_id, source_sha256)
    );
    CREATE INDEX reference_encodings_person ON reference_encodings(person_id);
    CREATE TABLE events (
        id        INTEGER PRIMARY KEY,
        at        TEXT NOT NULL,
        actor     TEXT NOT NULL,
        kind      TEXT NOT NULL,         -- consent.import, consent.set, consent.enrol, consent.forget, job.*, review.*, pull ...
        person_id TEXT,
        detail    TEXT NOT NULL DEFAULT '{}'   -- JSON, never holds a forgotten person's name
    );
    CREATE INDEX events_person ON events(person_id);
    """,
]
