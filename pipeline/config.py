"""Load ``pipeline.toml`` over the documented defaults and check every value."""
from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    """A configuration problem, explained for the person who has to fix it."""


def default_text() -> str:
    return resources.files("pipeline").joinpath("default_config.toml").read_text(encoding="utf-8")


DEFAULTS: dict[str, dict[str, Any]] = tomllib.loads(default_text())

CHOICES = {
    ("faces", "unknown"): ("blur", "review", "block"),
    ("faces", "uncertain"): ("redact", "review"),
    ("faces", "detector"): ("thorough", "hog"),
    ("redaction", "style"): ("blur", "pixelate", "box"),
    ("captions", "names"): ("first_only", "none"),
    ("watch", "mode"): ("native", "polling"),
    ("video", "audio"): ("keep", "drop"),
    ("text", "names"): ("redact", "off"),
}


@dataclass
class Config:
    data: dict[str, dict[str, Any]]

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.data[section]

    @property
    def channels(self) -> list[str]:
        return list(self.data["channels"]["names"])


def load_config(path: Path | None) -> Config:
    data = copy.deepcopy(DEFAULTS)
    if path is not None and path.exists():
        try:
            user = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML ({exc}). Fix the line it names, or delete the file and run 'pipeline init' again.") from exc
        for section, values in user.items():
            if section not in data or not isinstance(values, dict):
                raise ConfigError(f"{path}: unknown section [{section}]. The README lists every section and key.")
            for key, value in values.items():
                if key not in data[section]:
                    raise ConfigError(f"{path}: unknown key '{key}' in [{section}]. The README lists every key.")
                expected = type(DEFAULTS[section][key])
                if expected is float and isinstance(value, int) and not isinstance(value, bool):
                    value = float(value)
                if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                    raise ConfigError(f"{path}: [{section}] {key} must be a {expected.__name__}, not {value!r}.")
                data[section][key] = value
    _check(data, path)
    return Config(data)


def _check(data: dict, path: Path | None) -> None:
    where = str(path) if path else "configuration"
    for (section, key), allowed in CHOICES.items():
        if data[section][key] not in allowed:
            raise ConfigError(f"{where}: [{section}] {key} = {data[section][key]!r} is not one of {', '.join(allowed)}.")
    names = data["channels"]["names"]
    if not names or not all(isinstance(n, str) and n.isidentifier() and n.islower() for n in names):
        raise ConfigError(f"{where}: [channels] names must be a non-empty list of lower-case words, like [\"website\", \"social\"].")
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: [channels] names lists a channel twice.")
    for key in ("max_file_mb", "max_megapixels", "max_register_mb"):
        if not data["limits"][key] > 0:
            raise ConfigError(f"{where}: [limits] {key} must be more than 0.")
    f = data["faces"]
    if not (0 < f["match_tolerance"] <= f["review_tolerance"] <= 1.0):
        raise ConfigError(f"{where}: [faces] needs 0 < match_tolerance <= review_tolerance <= 1.0.")
    if not (0 < f["identification_target"] <= 0.01):
        raise ConfigError(f"{where}: [faces] identification_target must be above 0 and at most 0.01 "
                          "(the default 0.0001 is 1 face in 10,000).")
    if not (0 <= f["margin"] < 1):
        raise ConfigError(f"{where}: [faces] margin must be between 0 and 1.")
    if data["output"]["max_edge"] < 64:
        raise ConfigError(f"{where}: [output] max_edge must be at least 64 pixels.")
    if not (1 <= data["output"]["jpeg_quality"] <= 100):
        raise ConfigError(f"{where}: [output] jpeg_quality must be between 1 and 100.")
    if not 0 < data["video"]["max_seconds"] <= 3600:
        raise ConfigError(f"{where}: [video] max_seconds must be between 1 and 3600.")
    if data["redaction"]["padding"] < 0.2:
        raise ConfigError(f"{where}: [redaction] padding below 0.2 would leave parts of heads visible.")
