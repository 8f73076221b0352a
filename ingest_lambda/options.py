"""How an upload is read: the options a person gives on the command line or a source
configuration gives per ``raw/`` prefix."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Roles an input column can play, and the header names recognised for each role
# without configuration (compared case-insensitively, spaces and dashes as underscores).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "meter_id": ("meter_id", "meter", "appliance", "device", "device_id", "sensor", "sensor_id", "channel"),
    "timestamp": ("timestamp", "reading_start", "datetime", "date_time", "time", "interval_start", "start"),
    "value": ("value", "kwh", "energy", "energy_kwh", "consumption", "reading", "wh", "mwh", "kw"),
    "unit": ("unit", "units", "uom"),
    "interval_minutes": ("interval_minutes", "interval", "interval_min", "minutes"),
}
# A value column whose name is a unit says which unit it carries.
UNIT_FROM_VALUE_COLUMN = {"kwh": "kWh", "energy_kwh": "kWh", "wh": "Wh", "mwh": "MWh", "kw": "kW"}

# Multipliers to kWh for energy units; "kW" is average power over the interval.
ENERGY_UNITS = {"wh": 0.001, "kwh": 1.0, "mwh": 1000.0}
POWER_UNITS = {"kw": 1.0, "w": 0.001, "mw": 1000.0}


DEFAULT_MAX_BAD_ROW_SHARE = 0.25


class UsageError(ValueError):
    """Options that cannot work, whatever the file holds."""


@dataclass(frozen=True)
class IngestOptions:
    timezone: str = "UTC"
    unit: str | None = None
    meter_id: str | None = None
    interval_minutes: int | None = None
    register: bool = False
    column_map: dict[str, str] = field(default_factory=dict)
    timestamp_format: str | None = None
    max_bad_row_share: float = DEFAULT_MAX_BAD_ROW_SHARE

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise UsageError(
                f"unknown timezone {self.timezone!r}: use an IANA name such as 'Europe/Paris' or 'UTC'"
            ) from None
        if self.unit is not None and normalise_unit(self.unit) is None:
            raise UsageError(f"unknown unit {self.unit!r}: use Wh, kWh, MWh or kW (average power)")
        if self.interval_minutes is not None and (
            self.interval_minutes <= 0 or 1440 % self.interval_minutes
        ):
            raise UsageError("--interval-minutes must be a positive divisor of 1440 (e.g. 5, 15, 30, 60)")
        unknown_roles = set(self.column_map) - set(COLUMN_ALIASES)
        if unknown_roles:
            raise UsageError(
                f"unknown column role(s) {sorted(unknown_roles)}: map one of {sorted(COLUMN_ALIASES)}"
            )
        if not 0.0 <= self.max_bad_row_share <= 1.0:
            raise UsageError("the bad-row limit must be a share between 0 and 1")

    def fingerprint(self) -> str:
        """Stable digest of the options that decide the landed rows: the same bytes read
        differently are a different ingest. The bad-row limit decides only whether the rows
        land, never which, so it is left out (kept at its default, so ingest ids stay what
        they were): the same bytes with another limit are the same ingest, and a file
        rejected for too many bad rows can be ingested again with a looser one."""
        rows_options = {**asdict(self), "max_bad_row_share": DEFAULT_MAX_BAD_ROW_SHARE}
        return hashlib.sha256(json.dumps(rows_options, sort_keys=True).encode()).hexdigest()


def normalise_unit(unit: str) -> str | None:
    """Canonical lower-case unit key, or None when the unit is unknown."""
    key = unit.strip().lower().replace(" ", "")
    return key if key in ENERGY_UNITS or key in POWER_UNITS else None


def parse_column_map(pairs: list[str]) -> dict[str, str]:
    """``role=header`` pairs from the command line into a mapping."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        role, sep, header = pair.partition("=")
        if not sep or not role.strip() or not header.strip():
            raise UsageError(f"column mapping {pair!r} must look like ROLE=HEADER, e.g. value=Energy")
        mapping[role.strip()] = header.strip()
    return mapping
