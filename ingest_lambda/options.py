"""How an upload is read: the options a person gives on the command line or a source
configuration gives per ``raw/`` prefix."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import UsageError  # options' own error: importable from here as before

# Roles an input column can play (``--column ROLE=HEADER`` or ``ROLE=#position``); the
# header words recognised for each role without configuration are in layout.py.
COLUMN_ROLES = (
    "meter_id",
    "timestamp",
    "date",
    "time",
    "hour",
    "end_time",
    "value",
    "import",
    "export",
    "unit",
    "interval_minutes",
    "quality",
    "flow",
)
INTERVAL_CONVENTIONS = ("auto", "beginning", "ending")
FLOWS = ("import", "export", "net")
DATE_ORDERS = ("dmy", "mdy", "ymd")
DECIMAL_MARKS = (".", ",")
DEFAULT_MAX_KW = 10_000.0  # a power cap of 10 MW: above any building; a source raises it for larger sites

# Multipliers to kWh for energy units; "kW" is average power over the interval.
ENERGY_UNITS = {"wh": 0.001, "kwh": 1.0, "mwh": 1000.0}
POWER_UNITS = {"kw": 1.0, "w": 0.001, "mw": 1000.0}


DEFAULT_MAX_BAD_ROW_SHARE = 0.25
QUALITIES = ("measured", "estimated", "missing")


@dataclass(frozen=True)
class IngestOptions:
    timezone: str = "UTC"
    unit: str | None = None
    meter_id: str | None = None
    interval_minutes: int | None = None
    register: bool | None = None  # cumulative register reads? None: the file decides, refused when it cannot
    column_map: dict[str, str] = field(default_factory=dict)
    timestamp_format: str | None = None
    max_bad_row_share: float = DEFAULT_MAX_BAD_ROW_SHARE
    interval_convention: str = "auto"  # do timestamps mark the interval's beginning or its end?
    flow: str = "import"  # import, export, or net (signed: positive import, negative export)
    date_order: str | None = None  # dmy, mdy or ymd when the dates cannot tell
    decimal_mark: str | None = None  # "." or "," when the numbers cannot tell
    delimiter: str | None = None  # the CSV delimiter when detection cannot find it
    max_kw: float = DEFAULT_MAX_KW  # plausibility cap: average power over an interval, in kW
    register_max_gap_minutes: int = 360  # register reads at irregular times: a rise over a longer gap is left out
    quality_codes: dict[str, str] = field(default_factory=dict)  # a file's own quality codes: code -> measured/estimated/missing

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise UsageError(f"unknown timezone {self.timezone!r}: use an IANA name such as 'Europe/Paris' or 'UTC'") from None
        if self.unit is not None and normalise_unit(self.unit) is None:
            raise UsageError(f"unknown unit {self.unit!r}: use Wh, kWh, MWh, or W or kW (average power)")
        if self.interval_minutes is not None and (self.interval_minutes <= 0 or 1440 % self.interval_minutes):
            raise UsageError("--interval-minutes must be a positive divisor of 1440 (e.g. 5, 15, 30, 60)")
        unknown_roles = set(self.column_map) - set(COLUMN_ROLES)
        if unknown_roles:
            raise UsageError(f"unknown column role(s) {sorted(unknown_roles)}: map one of {sorted(COLUMN_ROLES)}")
        for name, value, allowed in (
            ("--interval-convention", self.interval_convention, INTERVAL_CONVENTIONS),
            ("--flow", self.flow, FLOWS),
            ("--date-order", self.date_order, DATE_ORDERS + (None,)),
            ("--decimal-mark", self.decimal_mark, DECIMAL_MARKS + (None,)),
        ):
            if value not in allowed:
                raise UsageError(f"{name} must be one of {', '.join(a for a in allowed if a)}, not {value!r}")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise UsageError("--delimiter must be one character, e.g. ';' or '\\t'")
        if self.register_max_gap_minutes <= 0:
            raise UsageError("the register gap limit must be a positive number of minutes")
        if not self.max_kw > 0:
            raise UsageError("--max-kw must be a positive power in kW")
        for code, quality in self.quality_codes.items():
            if quality not in QUALITIES or not str(code).strip():
                raise UsageError(
                    f"quality code mapping {code!r}={quality!r} must look like CODE=QUALITY with QUALITY one of "
                    f"{', '.join(QUALITIES)}, e.g. --quality-code W=measured"
                )
        if not 0.0 <= self.max_bad_row_share <= 1.0:
            raise UsageError("the bad-row limit must be a share between 0 and 1")

    def fingerprint(self) -> str:
        """Stable digest of the options that decide the landed rows: the same bytes read
        differently are a different ingest. The bad-row limit decides only whether the rows
        land, never which, so it is left out (kept at its default, so ingest ids stay what
        they were): the same bytes with another limit are the same ingest, and a file
        rejected for too many bad rows can be ingested again with a looser one. Options
        added later are left out at their default, so earlier ingest ids stay valid too."""
        defaults = IngestOptions.__dataclass_fields__
        chosen = {k: v for k, v in asdict(self).items() if k not in _ADDED_OPTIONS or v != defaults[k].default}
        chosen["max_bad_row_share"] = DEFAULT_MAX_BAD_ROW_SHARE
        # Undecided lands what "not a register" lands (a file that looks like one is
        # refused), so both keep the ingest id issued when the default was False.
        chosen["register"] = bool(self.register)
        return hashlib.sha256(json.dumps(chosen, sort_keys=True).encode()).hexdigest()


# Options added after ingest ids were first issued: left out of the fingerprint at their
# default, so re-ingesting bytes ingested before they existed still answers "nothing changed".
_ADDED_OPTIONS = (
    "interval_convention",
    "flow",
    "date_order",
    "decimal_mark",
    "delimiter",
    "max_kw",
    "register_max_gap_minutes",
    "quality_codes",
)


# Spellings of the same units in exports: Emporia's ``(kWhs)`` and ``(kWatts)``, words.
UNIT_ALIASES = {
    "kwhs": "kwh",
    "whs": "wh",
    "mwhs": "mwh",
    "kilowatthour": "kwh",
    "kilowatthours": "kwh",
    "watthour": "wh",
    "watthours": "wh",
    "megawatthour": "mwh",
    "megawatthours": "mwh",
    "kwatt": "kw",
    "kwatts": "kw",
    "kilowatt": "kw",
    "kilowatts": "kw",
    "watt": "w",
    "watts": "w",
    "megawatt": "mw",
    "megawatts": "mw",
}


def normalise_unit(unit: str) -> str | None:
    """Canonical lower-case unit key (a key of ENERGY_UNITS or POWER_UNITS), or None when
    the unit is unknown. Spaces and hyphens are ignored; UNIT_ALIASES maps other spellings."""
    key = re.sub(r"[\s-]+", "", unit.strip().lower())
    key = UNIT_ALIASES.get(key, key)
    return key if key in ENERGY_UNITS or key in POWER_UNITS else None


def parse_quality_codes(pairs: list[str]) -> dict[str, str]:
    """``CODE=QUALITY`` pairs from the command line (``W=measured``) into a mapping.
    Raises UsageError for a pair without ``=``."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        code, sep, quality = pair.rpartition("=")
        if not sep or not code.strip():
            raise UsageError(f"quality code mapping {pair!r} must look like CODE=QUALITY, e.g. W=measured or V=estimated")
        mapping[code.strip()] = quality.strip().lower()
    return mapping


def parse_column_map(pairs: list[str]) -> dict[str, str]:
    """``role=header`` pairs from the command line into a mapping."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        role, sep, header = pair.partition("=")
        if not sep or not role.strip() or not header.strip():
            raise UsageError(f"column mapping {pair!r} must look like ROLE=HEADER or ROLE=#POSITION, e.g. value=Energy or value=#3")
        if role.strip() in mapping:
            raise UsageError(f"--column {role.strip()}= is given twice: each role maps one column (a second would replace the first)")
        mapping[role.strip()] = header.strip()
    return mapping
