"""Register tables for data protection (issue 15): biometric consent per person.

Kept as its own migration component ("consent.privacy") so it never collides with the
numbering of ``consent/schema.py``. Append new migrations at the end; never edit an applied one.
"""

COMPONENT = "consent.privacy"

MIGRATIONS = [
    # 1: written parental consent to use reference photos for recognition (Protection of Freedoms Act
    #    2012 ss. 26-28). 0 = no (the default: nobody is enrolled without it), 1 = yes.
    """
    ALTER TABLE people ADD COLUMN biometric INTEGER NOT NULL DEFAULT 0;
    """,
    # 2: ids that were forgotten, by a salted hash of the id (so an id that spelt the name can be replaced
    #    by a pseudonymous tombstone and still be recognised when a later import brings it back)
    """
    CREATE TABLE erased_ids (
        digest    TEXT PRIMARY KEY,   -- sha256(salt + casefolded person id)
        tombstone TEXT NOT NULL,      -- the id kept in the register and the audit trail
        erased_on TEXT NOT NULL
    );
    CREATE TABLE privacy_salt (salt TEXT NOT NULL);
    """,
]
