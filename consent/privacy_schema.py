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
]
