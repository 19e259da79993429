"""What every image of a run needs from the register, loaded once and refreshed when the register changes."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from consent.identification.calibration import Calibration
from consent.identification.store import current_calibration
from consent.matching import Gallery, Tolerances
from consent.register import Person, load_people, load_reference_encodings
from processors.names import NamedPerson


@dataclass
class RunContext:
    ws: object
    people: dict[str, Person] = field(default_factory=dict)
    gallery: Gallery = field(default_factory=lambda: Gallery([], []))
    named: list[NamedPerson] = field(default_factory=list)
    calibration: Calibration | None = None
    _fingerprint: tuple | None = None

    @property
    def channels(self) -> list[str]:
        return self.ws.config.channels

    @property
    def tolerances(self) -> Tolerances:
        return Tolerances.from_config(self.ws.config["faces"], self.calibration)

    @staticmethod
    def today() -> date:
        return date.today()

    def refresh(self) -> "RunContext":
        """Reload people and reference encodings if anything in the register changed."""
        fp = register_fingerprint(self.ws.db)
        if fp != self._fingerprint:
            self.people = load_people(self.ws.db)
            ids, encodings = load_reference_encodings(self.ws.db)
            self.gallery = Gallery(ids, encodings)
            # the identification rule, calibrated on these reference photos (computed again if they changed)
            self.calibration = current_calibration(self.ws.db, self.ws.config["faces"], encodings=(ids, encodings))
            self.named = [NamedPerson(p.person_id, p.given_name or "", p.family_name or "")
                          for p in self.people.values() if not p.forgotten and p.given_name and p.family_name]
            self._fingerprint = fp
        return self


def register_fingerprint(conn) -> tuple:
    return tuple(conn.execute(
        "SELECT (SELECT count(*) FROM people), (SELECT max(updated_at) FROM people),"
        " (SELECT max(id) FROM consent_history), (SELECT count(*) FROM consent_history),"
        " (SELECT count(*) FROM reference_encodings), (SELECT max(id) FROM reference_encodings),"
        " (SELECT max(updated_at) FROM consents)"
    ).fetchone())
