"""Pipeline tables for data protection (issue 15): the SHA-256 of the kept original, "consent renewed" items.

``jobs.sha256`` is the hash of the input as received; ``original_sha256`` is the hash of the private
copy in originals/ when it differs (after ``consent forget`` rewrote it without a forgotten person).
Every re-render or release checks the copy against it (``pipeline.consent_changes.originals``).
Own migration component ("pipeline.privacy"); append only.
"""

COMPONENT = "pipeline.privacy"

MIGRATIONS = [
    """
    ALTER TABLE jobs ADD COLUMN original_sha256 TEXT;
    """,
    # 2: "consent renewed" items of the review queue: a released photo that blurs a person only because
    #    of a refusal since reversed; a person decides (released = re-rendered showing them, dismissed).
    """
    CREATE TABLE renewals (
        id         INTEGER PRIMARY KEY,
        job_id     INTEGER NOT NULL REFERENCES jobs(id),
        person_id  TEXT NOT NULL,
        channels   TEXT NOT NULL DEFAULT '[]',   -- JSON: channels on which consent was granted again
        created_at TEXT NOT NULL,
        decided_at TEXT,
        decision   TEXT CHECK (decision IN ('released','dismissed','superseded')),
        actor      TEXT
    );
    CREATE INDEX renewals_job ON renewals(job_id);
    """,
]
