"""Job, face, output and cache tables. Append new migrations at the end; never edit an applied one."""

MIGRATIONS = [
    # 1: jobs (one per input file), faces found, per-channel outputs, pulls
    """
    CREATE TABLE jobs (
        id            INTEGER PRIMARY KEY,
        source        TEXT NOT NULL,      -- path as given / relative to the workspace
        sha256        TEXT,               -- content hash of the input
        state         TEXT NOT NULL CHECK (state IN ('received','processing','done')),
        status        TEXT CHECK (status IN ('released','review','blocked','rejected')),
        reason        TEXT,
        original_path TEXT,               -- where the untouched original is kept (originals/ or quarantine/)
        caption       TEXT,               -- caption as received (private; never published as is)
        taken_date    TEXT,
        width         INTEGER,
        height        INTEGER,
        metadata_found TEXT NOT NULL DEFAULT '[]',  -- JSON list
        result_json   TEXT,               -- the JSON result record of DESIGN.md
        received_at   TEXT NOT NULL,
        started_at    TEXT,
        finished_at   TEXT,
        actor         TEXT NOT NULL
    );
    CREATE INDEX jobs_sha ON jobs(sha256);
    CREATE INDEX jobs_state ON jobs(state);
    CREATE TABLE faces (
        id        INTEGER PRIMARY KEY,
        job_id    INTEGER NOT NULL REFERENCES jobs(id),
        idx       INTEGER NOT NULL,       -- face number within the image, from 0
        box       TEXT NOT NULL,          -- JSON [top,right,bottom,left] in orientation-corrected original
        encoding  BLOB,                   -- NULL when too small to recognise
        person_id TEXT,                   -- best candidate (identified or uncertain)
        distance  REAL,
        match     TEXT NOT NULL CHECK (match IN ('identified','uncertain','unknown')),
        candidates TEXT NOT NULL DEFAULT '[]',  -- JSON [[person_id, distance], ...]
        confirmed_person TEXT,            -- set by a reviewer ('unknown' allowed)
        decisions TEXT NOT NULL DEFAULT '{}',   -- JSON {channel: keep|blur|review|block}
        UNIQUE (job_id, idx)
    );
    CREATE INDEX faces_person ON faces(person_id);
    CREATE TABLE outputs (
        id         INTEGER PRIMARY KEY,
        job_id     INTEGER NOT NULL REFERENCES jobs(id),
        channel    TEXT NOT NULL,
        path       TEXT NOT NULL,         -- relative to the workspace
        caption    TEXT,
        sha256     TEXT NOT NULL,
        state      TEXT NOT NULL DEFAULT 'live' CHECK (state IN ('live','retracted')),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (job_id, channel)
    );
    CREATE TABLE pulls (
        id         INTEGER PRIMARY KEY,
        output_id  INTEGER NOT NULL REFERENCES outputs(id),
        output_sha256 TEXT NOT NULL,
        channel    TEXT NOT NULL,
        dest       TEXT NOT NULL,
        pulled_at  TEXT NOT NULL,
        actor      TEXT NOT NULL
    );
    CREATE TABLE audit_cache (
        sha256     TEXT PRIMARY KEY,
        faces      TEXT NOT NULL,         -- JSON [{box, encoding(base64)|null}]
        metadata   TEXT NOT NULL,         -- JSON of the metadata inspection
        width      INTEGER,
        height     INTEGER,
        created_at TEXT NOT NULL
    );
    """,
    # 2: review decisions, changes made to released outputs after a consent change, takedowns
    """
    CREATE TABLE review_decisions (
        id         INTEGER PRIMARY KEY,
        job_id     INTEGER NOT NULL REFERENCES jobs(id),
        face_idx   INTEGER,               -- NULL for a decision about the whole image
        decision   TEXT NOT NULL CHECK (decision IN ('identify','release','block')),
        person_id  TEXT,                  -- for 'identify': a person id or 'unknown'
        at         TEXT NOT NULL,
        actor      TEXT NOT NULL
    );
    CREATE INDEX review_decisions_job ON review_decisions(job_id);
    CREATE TABLE output_changes (
        id         INTEGER PRIMARY KEY,
        output_id  INTEGER NOT NULL REFERENCES outputs(id),
        job_id     INTEGER NOT NULL REFERENCES jobs(id),
        channel    TEXT NOT NULL,
        action     TEXT NOT NULL CHECK (action IN ('rerendered','retracted')),
        old_sha256 TEXT,
        new_sha256 TEXT,                  -- NULL when retracted
        people     TEXT NOT NULL DEFAULT '[]',   -- JSON person ids whose faces changed
        cause      TEXT NOT NULL,         -- e.g. 'consent set', 'consent import', 'consent forget', 'expiry'
        at         TEXT NOT NULL,
        actor      TEXT NOT NULL
    );
    CREATE INDEX output_changes_output ON output_changes(output_id);
    CREATE TABLE takedowns (
        id         INTEGER PRIMARY KEY,
        pull_id    INTEGER NOT NULL UNIQUE REFERENCES pulls(id),
        output_id  INTEGER NOT NULL REFERENCES outputs(id),
        change_id  INTEGER NOT NULL REFERENCES output_changes(id),
        channel    TEXT NOT NULL,
        reason     TEXT NOT NULL,
        created_at TEXT NOT NULL,
        done_at    TEXT,                  -- set when someone confirms it was taken down
        done_by    TEXT
    );
    """,
    # 3: audit cache keyed by content hash: what the analysis was (detector settings), its outcome
    #    (checked | unreadable) and, for unreadable files, why; when it was last used
    """
    ALTER TABLE audit_cache ADD COLUMN analysis TEXT NOT NULL DEFAULT '';
    ALTER TABLE audit_cache ADD COLUMN outcome TEXT NOT NULL DEFAULT 'checked';
    ALTER TABLE audit_cache ADD COLUMN error TEXT;
    ALTER TABLE audit_cache ADD COLUMN format TEXT;
    ALTER TABLE audit_cache ADD COLUMN used_at TEXT;
    """,
    # 4: the face tracks of a video clip (idx = the face's idx in faces, which holds its decisions)
    """
    CREATE TABLE tracks (
        id          INTEGER PRIMARY KEY,
        job_id      INTEGER NOT NULL REFERENCES jobs(id),
        idx         INTEGER NOT NULL,
        first_frame INTEGER NOT NULL,
        last_frame  INTEGER NOT NULL,
        first_time  REAL,
        last_time   REAL,
        person_id   TEXT,
        match       TEXT NOT NULL,
        decisions   TEXT NOT NULL DEFAULT '{}',      -- JSON, as decided when the clip was processed
        frames_in_question TEXT NOT NULL DEFAULT '[]',
        boxes       TEXT NOT NULL DEFAULT '[]',      -- JSON [[frame, top, right, bottom, left], ...]
        UNIQUE (job_id, idx)
    );
    """,
]
