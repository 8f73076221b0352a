"""Which column plays which role, and the file's layout.

Three layouts reach the reading contract:

- **long**: a row per reading (``meter_id,timestamp,value``; date and time or an hour
  number in separate columns; a unit, interval, quality or flow column).
- **wide by day**: a row per day with a column per interval, named by time
  (``00:00-00:15``, ``00:15``, ``H01``, ``1`` … ``24``).
- **wide by meter**: a time column and a column per meter or channel.

Roles come from the user's ``--column ROLE=HEADER`` (or ``ROLE=#3`` by position) first,
then from header words utilities use (English, German, French, Spanish, Italian,
Dutch), always checked against the column's content; a headerless file is read by
content alone. Units come from the header (``USAGE (kWh)``, ``Wert [kWh]``,
``Energie Wh``) when no unit column or option gives them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import pyarrow as pa

from .codes import flow_of
from .dialect import DATE_IN_CELL, TableStart
from .errors import DialectAmbiguous, FileRejected
from .numbers import PLACEHOLDERS, NumberFormat, NumberFormatAmbiguous, detect_number_format
from .options import IngestOptions, normalise_unit
from .timestamps import TimeFormat, TimeFormatAmbiguous, detect_time_format, parse_times

# Header words per role, compared on the header's words (lower case, accents folded,
# units in brackets removed). A word list, not free text: a column is matched when its
# words equal an entry or hold it as one word.
ROLE_WORDS: dict[str, tuple[str, ...]] = {
    "meter_id": (
        "meter_id",
        "meter",
        "meterid",
        "meter_number",
        "meter_no",
        "appliance",
        "device",
        "device_id",
        "sensor",
        "sensor_id",
        "channel",
        "zaehler",
        "zahler",
        "zaehlernummer",
        "zaehlpunkt",
        "zahlpunkt",
        "messpunkt",
        "cups",
        "lclid",
        "mpan",
        "mprn",
        "ean",
        "pod",
        "esiid",
        "prm",
        "compteur",
        "contador",
        "contatore",
        "meternummer",
        "aansluiting",
        "supply_point",
        "ppe",
        "nmi",
        "mpid",
        "premise",
        "premise_id",
    ),
    "timestamp": (
        "timestamp",
        "time_stamp",
        "datetime",
        "date_time",
        "zeitstempel",
        "messzeitpunkt",
        "zeitpunkt",
        "reading_start",
        "interval_start",
        "start_time_utc",
        "horodatage",
        "fecha_hora",
        "data_ora",
        "tijdstip",
        "datum_tijd",
        "datum_zeit",
        "from",
        "von",
        "start",
        "period_start",
        "interval_end",
        "end",
        "ende",
        "bis",
        "to",
        "period_end",
        "read_time",
        "reading_time",
    ),
    "date": ("date", "datum", "fecha", "giorno", "data", "jour", "dag", "day", "usage_date", "read_date"),
    "time": (
        "time",
        "zeit",
        "uhrzeit",
        "hora",
        "ora",
        "heure",
        "tijd",
        "start_time",
        "begin",
        "beginn",
        "interval",
        "periode",
        "periodo",
    ),
    "end_time": ("end_time", "endzeit", "bis_zeit", "hora_fin", "heure_fin", "ora_fine", "eindtijd"),
    "value": (
        "value",
        "kwh",
        "wh",
        "mwh",
        "kw",
        "energy",
        "energy_kwh",
        "energie",
        "consumption",
        "consumo",
        "verbrauch",
        "usage",
        "reading",
        "load",
        "conso",
        "consommation",
        "verbruik",
        "afname",
        "levering",
        "import",
        "bezug",
        "netzbezug",
        "wert",
        "valor",
        "valore",
        "waarde",
        "quantity",
        "menge",
        "kwh_hh",
        "consumo_kwh",
        "energia",
        "lettura",
        "demand",
    ),
    "unit": ("unit", "units", "uom", "einheit", "unidad", "unite", "unita", "eenheid", "unit_of_measure"),
    "interval_minutes": ("interval_minutes", "interval_min", "minutes", "interval_length", "intervall"),
    "quality": (
        "quality",
        "qualitaet",
        "qualitat",
        "status",
        "flag",
        "estimated",
        "metodo_obtencion",
        "read_type",
        "reading_type",
        "quality_code",
        "data_quality",
        "qualite",
        "calidad",
        "qualita",
        "kwaliteit",
    ),
    "flow": ("flow", "direction", "register", "richtung", "energierichtung", "sens", "direccion"),
}
# Columns that are never energy, whatever their content.
IGNORED_WORDS = (
    "cost",
    "costs",
    "price",
    "kosten",
    "preis",
    "amount",
    "notes",
    "note",
    "comment",
    "kommentar",
    "bill",
    "charge",
    "temperature",
    "temp",
    "type",
    "stdortou",
    "tariff_name",
)
TIME_ROLES = ("timestamp", "date", "time", "end_time")
# Words of a timestamp header that say it marks the END of the interval.
END_WORDS = {"end", "ende", "bis", "to", "interval_end", "period_end", "fin"}
# Words of a time header that say it marks the START.
START_WORDS = {"start", "from", "von", "begin", "beginn", "start_time", "interval_start", "period_start"}
UNIT_IN_HEADER = re.compile(r"[\[(]\s*(k?whs?|mwhs?|k?watts?|k?w|mw)\b[^\])]*[\])]", re.IGNORECASE)
UNIT_WORD = re.compile(r"(?:^|[\s_/-])(k?whs?|mwhs?|kw|mw)(?:$|[\s_/-])", re.IGNORECASE)
SAMPLE_CELLS = 2000
NONZERO_DIGITS = re.compile(r"[1-9]")
TIME_SAMPLE_CELLS = 400  # dates and times: the first cells of the sample show the format and the run of days
# Wide-by-day interval columns: "00:00-00:15", "00:15", "H01", "1" … "24", "Q96".
SLOT_RANGE = re.compile(r"^\s*(\d{1,2})[:.h](\d{2})\s*[-–/]\s*(\d{1,2})[:.h](\d{2})\s*$", re.IGNORECASE)
SLOT_TIME = re.compile(r"^\s*(\d{1,2})[:.h](\d{2})\s*$", re.IGNORECASE)
SLOT_NUMBER = re.compile(r"^\s*(?:h|hr|hour|ora|hora|stunde|uur|q|p|periodo|period)?\s*0*(\d{1,3})\s*([ab])?\s*$", re.IGNORECASE)
WIDE_DAY_MIN_SLOTS = 20
# The format a named timestamp column is read in when no cell of the sample can be read.
ISO_FALLBACK = TimeFormat(kind="datetime", pattern="%Y-%m-%d %H:%M:%S", day_first=None, has_offset=False)


@dataclass(frozen=True)
class ValueColumn:
    """A column of readings: in a long file the value column; in a wide-by-meter file
    one per meter (``meter_id`` from the header); ``unit`` when the header gives one."""

    column: str
    number: NumberFormat
    meter_id: str | None = None
    unit: str | None = None
    flow: str | None = None  # "import"/"export" when the column says which way


@dataclass(frozen=True)
class Slot:
    """An interval column of a wide-by-day file: minutes after local midnight of the
    interval's start, on the wall clock (``elapsed=False``) or counted in elapsed time
    from midnight (hour numbers, ``elapsed=True``); ``fold`` 0/1 for A/B labels."""

    column: str
    minutes: int
    fold: int | None = None


@dataclass(frozen=True)
class Layout:
    kind: str  # "long" | "wide_day" | "wide_meter"
    roles: dict[str, str]  # role -> column name
    formats: dict[str, TimeFormat]  # time column -> its format
    values: tuple[ValueColumn, ...]
    meter_default: str | None = None  # the meter of a file without a meter column
    slots: tuple[Slot, ...] = ()
    slot_minutes: int | None = None
    slot_elapsed: bool = False
    convention_hint: str | None = None  # "beginning"/"ending" when the header decides it
    evidence: list[str] = field(default_factory=list)  # why, for the dialect record

    @property
    def hour_numbers(self) -> bool:
        return "hour" in self.roles


def words(header: str) -> list[str]:
    """A header's words: accents folded, lower case, units in brackets removed."""
    text = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[\[(][^\])]*[\])]", " ", text)
    return [w for w in re.split(r"[^a-z0-9]+", text) if w]


def _matches(header: str, aliases: tuple[str, ...]) -> bool:
    found = words(header)
    joined = "_".join(found)
    return joined in aliases or any(w in aliases for w in found)


def unit_of_header(header: str) -> str | None:
    """The energy or power unit a header names (``USAGE (kWh)``, ``Wert [kWh]``,
    ``Energie Wh``, ``KWH/hh``), as a unit key of ``options.normalise_unit``."""
    match = UNIT_IN_HEADER.search(header) or UNIT_WORD.search(header.strip())
    if match:
        return normalise_unit(match.group(1))
    lone = words(header)
    if len(lone) == 1 and normalise_unit(lone[0]):
        return normalise_unit(lone[0])
    return None


def meter_name_of_header(header: str) -> str:
    """A channel's meter id in a wide-by-meter file: the header without its unit."""
    name = UNIT_IN_HEADER.sub("", header)
    name = re.sub(r"\s+(k?whs?|mwhs?|kw|mw)\s*$", "", name, flags=re.IGNORECASE).strip(" _-")
    return name or header.strip()


def default_meter_id(source_key: str) -> str:
    """A file without a meter column is one meter, named after the file."""
    name = PurePosixPath(source_key).name
    for suffix in (".gz", ".csv", ".txt", ".tsv"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name or "meter"


def _sample(table: TableStart, name: str) -> list[str]:
    position = table.names.index(name)
    return [r[position].strip() for r in table.sample_rows[:SAMPLE_CELLS] if position < len(r)]


def _is_blank(cells: list[str]) -> bool:
    return all(not c for c in cells)


NUMBER_CELL = re.compile(r"[+-]?[\d.,' \u00a0\u202f]*\d[\d.,' \u00a0\u202f]*([eE][+-]?\d+)?")


def _numeric_share(cells: list[str]) -> float | None:
    """Share of the filled, non-placeholder cells that look like numbers (None: no such cell)."""
    filled = [c for c in cells if c and c.lower() not in PLACEHOLDERS]
    if not filled:
        return None
    return sum(1 for c in filled if NUMBER_CELL.fullmatch(c)) / len(filled)


def _is_numeric_or_empty(cells: list[str]) -> bool:
    """A named value column: mostly numbers (the rest are quarantined row by row), or
    only placeholders (a meter that sent nothing)."""
    share = _numeric_share(cells)
    return share is None or share >= 0.5


def _is_numeric(cells: list[str]) -> bool:
    """An unnamed column holds numbers: nearly all of its cells."""
    share = _numeric_share(cells)
    return share is not None and share >= 0.9


def _column_by_reference(table: TableStart, reference: str, role: str) -> str:
    """A column named by header text or by 1-based position (``#3``)."""
    if reference.startswith("#") and reference[1:].isdigit():
        position = int(reference[1:])
        if 1 <= position <= len(table.names):
            return table.names[position - 1]
        raise FileRejected(
            f"the column for {role} is given as {reference}, but the table has {len(table.names)} columns",
            "missing_column",
        )
    if reference in table.names:
        return reference
    stripped = {h.strip(): n for h, n in zip(table.header, table.names) if h}
    if reference.strip() in stripped:
        return stripped[reference.strip()]
    raise FileRejected(
        f"the mapped column {reference!r} (for {role}) is not in the header {_header_text(table)}; "
        "map a column by its header or by position, e.g. --column value=#3",
        "missing_column",
    )


def _header_text(table: TableStart) -> str:
    if table.header_guessed:
        # No row of the file holds a date the way exports write one: the "header" may be
        # a preamble line with a customer's name or address, so it is never quoted.
        return f"(the first line, not shown: no row holds a date this tool reads, so it may be a preamble; {len(table.names)} columns)"
    return (
        str([h for h in table.header])
        if table.header
        else f"(no header: {len(table.names)} columns, refer to them as #1 … #{len(table.names)})"
    )


def detect_layout(table: TableStart, options: IngestOptions, source_key: str) -> Layout:
    """Roles, formats and layout of the table, from its header and sample rows.

    Raises FileRejected when a required role is missing, DialectAmbiguous when the
    file fits two readings (the message names the option that decides).
    """
    usable = [n for n in table.names if n not in table.blank_columns]
    samples = {n: _sample(table, n) for n in usable}
    filled = [n for n in usable if not _is_blank(samples[n])] if table.sample_rows else usable
    roles: dict[str, str] = {}
    evidence: list[str] = []
    for role, reference in options.column_map.items():
        roles[role] = _column_by_reference(table, reference, role)
    taken = set(roles.values())

    formats: dict[str, TimeFormat] = {}
    undecided_dates: dict[str, DialectAmbiguous] = {}

    def time_format(name: str, kind: str | None = None) -> TimeFormat | None:
        if not _may_hold_times(samples[name]):
            return None  # cheap refusal first: a wide file has a hundred value columns
        try:
            found = detect_time_format(
                _spread(samples[name], TIME_SAMPLE_CELLS),
                kind_hint=kind,
                date_order=options.date_order,
                timestamp_format=options.timestamp_format if kind in (None, "datetime") else None,
                column=name,
            )
        except TimeFormatAmbiguous as exc:
            raise DialectAmbiguous(exc.message, exc.option) from None
        return found

    # Time columns: named ones first (checked against content), then by content.
    for name in filled:
        if name in taken:
            continue
        header = name if table.header else ""
        if not header or _matches(header, IGNORED_WORDS):
            continue
        for role in ("end_time", "timestamp", "date", "time"):
            if role in roles or not _matches(header, ROLE_WORDS[role]):
                continue
            kind = {"timestamp": None, "date": "date", "time": None, "end_time": None}[role]
            try:
                found = time_format(name, kind)
            except DialectAmbiguous as ambiguous:
                # A day-per-row table decides the date order itself: its rows are
                # successive days in one order only. Kept only if the layout is wide by day.
                found = _day_per_row_order(samples[name], name) if role == "date" else None
                if found is None:
                    raise
                undecided_dates[name] = ambiguous
            if found is None:
                continue
            if role == "timestamp" and found.kind == "date":
                role = "date" if "date" not in roles else role
            if role in ("time", "timestamp") and found.kind == "hour_number":
                role = "hour"
            if role == "timestamp" and found.kind == "time":
                role = "time"
            if role == "time" and found.kind == "datetime":
                role = "timestamp"
            if role in roles:
                continue
            roles[role] = name
            formats[name] = found
            taken.add(name)
            break
    for role in ("timestamp", "date", "time", "hour", "end_time"):
        if role in roles and roles[role] not in formats:
            kind = {"date": "date", "hour": "hour_number"}.get(role)
            found = time_format(roles[role], kind)
            if found is None:
                raise FileRejected(
                    f"the column {roles[role]!r} given for {role} holds no {role.replace('_', ' ')}s "
                    f"(first cell {_first_cell(samples, roles[role])})",
                    "missing_column",
                )
            formats[roles[role]] = found
    if "timestamp" not in roles and "date" not in roles:
        for name in filled:
            if name in taken:
                continue
            found = time_format(name)
            if found is None or found.kind not in ("datetime", "date"):
                continue
            role = "timestamp" if found.kind == "datetime" else "date"
            roles[role], formats[name] = name, found
            taken.add(name)
            break
    if "date" in roles and "time" not in roles and "hour" not in roles and "timestamp" not in roles:
        for name in filled:
            if name in taken or (table.header and _matches(name, IGNORED_WORDS)):
                continue
            found = time_format(name, None)
            if found is not None and found.kind in ("time", "hour_number"):
                role = "time" if found.kind == "time" else "hour"
                if role == "time" and table.header and _matches(name, ROLE_WORDS["end_time"]):
                    continue
                roles[role], formats[name] = name, found
                taken.add(name)
                break

    # Other named roles.
    for role in ("meter_id", "unit", "interval_minutes", "quality", "flow"):
        if role in roles or not table.header:
            continue
        for name in filled:
            if name not in taken and _matches(name, ROLE_WORDS[role]) and not _matches(name, IGNORED_WORDS):
                if role in ("meter_id", "quality", "flow") and _is_numeric(samples[name]) and role != "meter_id":
                    continue
                roles[role] = name
                taken.add(name)
                break

    if "meter_id" not in roles and not options.meter_id and not table.header_guessed:
        _meter_by_content(table, filled, taken, samples, roles, evidence)

    convention_hint = None
    if "timestamp" in roles and table.header:
        header_words = set(words(roles["timestamp"]))
        if header_words & END_WORDS and not header_words & START_WORDS:
            convention_hint = "ending"
            evidence.append(f"the time column {roles['timestamp']!r} names the interval end")
    if "time" in roles and "end_time" in roles:
        convention_hint = "beginning"
        evidence.append(f"separate start ({roles['time']!r}) and end ({roles['end_time']!r}) columns")

    # Wide by day: a date column and interval columns named by time.
    if "date" in roles and "time" not in roles and "hour" not in roles and "timestamp" not in roles:
        wide = _wide_day(table, [n for n in filled if n not in taken], options)
        if wide is not None:
            slots, step, elapsed, hint, why = wide
            number = _number_format([c for s in slots for c in samples[s.column][:200]], options, "the interval columns")
            meter_default = None if "meter_id" in roles else (options.meter_id or default_meter_id(source_key))
            if roles["date"] in undecided_dates:
                evidence.append(f"date order {formats[roles['date']].order}: the rows are successive days only in that order")
            unit = options.unit and normalise_unit(options.unit)
            return Layout(
                kind="wide_day",
                roles=roles,
                formats=formats,
                values=(ValueColumn(column=slots[0].column, number=number, unit=unit),),
                meter_default=meter_default,
                slots=tuple(slots),
                slot_minutes=step,
                slot_elapsed=elapsed,
                convention_hint=hint,
                evidence=evidence + [why],
            )

    for name, ambiguous in undecided_dates.items():
        # Readings through the day (a time or hour column beside the date) are a series
        # of successive days too; daily or monthly rows alone decide nothing.
        if "time" not in roles and "hour" not in roles:
            raise ambiguous
        evidence.append(f"date order {formats[name].order}: the readings' days run on unbroken only in that order")
    if "timestamp" not in roles and "date" not in roles and table.header:
        # A column named as the timestamp whose cells cannot be read: keep it, so the row
        # rules quote the cells that cannot be read (rather than "no time column").
        named = [n for n in filled or usable if n not in taken and "_".join(words(n)) in ROLE_WORDS["timestamp"]]
        if named:
            roles["timestamp"] = named[0]
            formats[named[0]] = ISO_FALLBACK
            taken.add(named[0])
    if "timestamp" not in roles and not ("date" in roles and ("time" in roles or "hour" in roles)):
        raise FileRejected(
            f"no column holds the reading times; the header is {_header_text(table)}. "
            "Map it with --column timestamp=HEADER (or --column date=… --column time=…), "
            "or give --timestamp-format when the times are written in an unusual way",
            "missing_column",
        )

    # Values: explicit import/export/value columns, else named or unit-bearing numeric columns.
    values: list[ValueColumn] = []
    for role, flow in (("value", None), ("import", "import"), ("export", "export")):
        if role in roles:
            name = roles[role]
            values.append(
                ValueColumn(
                    name, _number_format(samples[name], options, name), unit=unit_of_header(name) if table.header else None, flow=flow
                )
            )
    if not values:
        candidates = []
        for name in filled:
            if name in taken or (table.header and _matches(name, IGNORED_WORDS)):
                continue
            named = bool(table.header) and (_matches(name, ROLE_WORDS["value"]) or unit_of_header(name) is not None)
            if not (_is_numeric_or_empty(samples[name]) if named else _is_numeric(samples[name])):
                continue
            candidates.append((named, name))
        named = [n for is_named, n in candidates if is_named]
        chosen = named or ([n for _, n in candidates] if not table.header or len(candidates) == 1 else [])
        if not chosen:
            unnamed = [n if not table.header_guessed else f"#{table.column_position(n)}" for _, n in candidates]
            hint = f" (numeric columns: {unnamed})" if unnamed else ""
            # a mapped value column is the file's only one: say so where others would be left out
            several = (
                "; --column value= reads that one column only, so if each numeric column is a meter or circuit, "
                "name its unit in its header (e.g. 'Mains (kWh)') and each lands as its own meter"
                if len(unnamed) > 1
                else ""
            )
            raise FileRejected(
                f"missing required column(s) ['value']: no column of the header {_header_text(table)} "
                f"holds energy readings{hint}. Map it with --column value=HEADER (or value=#3){several}",
                "missing_column",
            )
        repeated = [n for n in chosen if "#" in n and not n.startswith("#")]
        if len(chosen) > 1 and repeated:
            positions = ", ".join(f"#{table.column_position(n)}" for n in chosen)
            raise DialectAmbiguous(
                f"the header repeats the name of a value column ({repeated[0].split('#')[0]!r}), so which column "
                f"holds which meter's readings cannot be told; map one with --column value=#N (columns {positions})",
                "--column value=",
            )
        directions = {name: _direction_of_header(name) for name in chosen} if table.header else {}
        if len(chosen) > 1 and any(d == "export" for d in directions.values()):
            # Columns named for the two directions (IMPORT/EXPORT, Netzbezug/Einspeisung,
            # Delivered/Received) are one meter's import and export, never two meters.
            unknown = [n for n, d in directions.items() if d is None]
            if unknown:
                raise DialectAmbiguous(
                    f"the columns {chosen} include energy fed into the grid ({[n for n, d in directions.items() if d == 'export']}) "
                    f"beside columns whose direction the header does not say ({unknown}); map them with "
                    "--column import=HEADER --column export=HEADER (or --column value=HEADER)",
                    "--column import=",
                )
            for name in chosen:
                values.append(
                    ValueColumn(name, _number_format(samples[name], options, name), unit=unit_of_header(name), flow=directions[name])
                )
            evidence.append("value columns named for import and export: " + ", ".join(f"{n!r} {d}" for n, d in directions.items()))
            chosen = []
        if len(chosen) > 1 and "meter_id" in roles:
            raise DialectAmbiguous(
                f"several columns could hold the readings ({chosen}) and the file also has a meter column "
                f"({roles['meter_id']!r}); say which with --column value=HEADER",
                "--column value=",
            )
        for name in chosen:
            values.append(
                ValueColumn(
                    name,
                    _number_format(samples[name], options, name),
                    meter_id=meter_name_of_header(name) if len(chosen) > 1 else None,
                    unit=unit_of_header(name) if table.header else None,
                )
            )
    kind = "wide_meter" if len(values) > 1 and all(v.meter_id for v in values) else "long"
    meter_default = None
    if "meter_id" not in roles and kind == "long":
        meter_default = options.meter_id or default_meter_id(source_key)
        if not options.meter_id:
            evidence.append(f"no meter column: the meter is named after the file, {meter_default!r} (--meter-id sets it)")
    return Layout(
        kind=kind,
        roles=roles,
        formats=formats,
        values=tuple(values),
        meter_default=meter_default,
        convention_hint=convention_hint,
        evidence=evidence,
    )


def _day_per_row_order(cells: list[str], column: str) -> TimeFormat | None:
    """The one date order in which a day-per-row column's dates make an unbroken run of
    days (several meters may repeat it), or None when both or neither do."""
    fitting = []
    for order in ("dmy", "mdy"):
        try:
            fmt = detect_time_format(cells, kind_hint="date", date_order=order, column=column)
        except TimeFormatAmbiguous:
            continue
        if fmt is None:
            continue
        days = [d for d in parse_times(pa.array(cells, pa.string()), fmt).naive.to_pylist() if d is not None]
        ordinals = sorted({d.date().toordinal() for d in days})
        if len(ordinals) >= 2 and all(b - a == 1 for a, b in zip(ordinals, ordinals[1:])):
            fitting.append(fmt)
    return fitting[0] if len(fitting) == 1 else None


def _spread(cells: list[str], count: int) -> list[str]:
    """The first ``count`` cells of a sample: consecutive, so a run of days shows."""
    return cells[:count]


def _by_shape(cells: list[str], per_shape: int = 2) -> list[str]:
    """A few cells of each shape (digits 1-9 as 'd', zeros, signs and separators kept):
    what decides a number format is where separators and zeros stand, so these decide as
    much as all the cells, at a fraction of the cost."""
    kept: dict[str, int] = {}
    out = []
    for cell in dict.fromkeys(cells):
        shape = NONZERO_DIGITS.sub("d", cell)
        if kept.get(shape, 0) < per_shape:
            kept[shape] = kept.get(shape, 0) + 1
            out.append(cell)
    return out


def _meter_by_content(table, filled, taken, samples, roles, evidence) -> None:
    """A column of text that no header word names: in a headerless file the first such
    column is the meter; in a file with a header, one holding several different texts
    could be meters, and a file of several meters must never land as one, so the
    file is refused with the options that decide."""
    for name in filled:
        if name in taken or (table.header and _matches(name, IGNORED_WORDS)):
            continue
        cells = [c for c in samples[name] if c]
        share = _numeric_share(cells)
        if share is None or share >= 0.5 or not _may_be_text_ids(cells):
            continue
        distinct = list(dict.fromkeys(cells))
        if not table.header:
            roles["meter_id"] = name
            taken.add(name)
            evidence.append(f"meter ids from column {name} (a headerless file: the column of text)")
            return
        if len(distinct) > 1:
            raise DialectAmbiguous(
                f"column {name!r} holds several texts ({', '.join(repr(d[:20]) for d in distinct[:3])} …) and no "
                f"column is named as the meter: if it names the meter, give --column meter_id={name}; if the "
                "file is one meter, give --meter-id NAME",
                "--column meter_id=",
            )


def _may_be_text_ids(cells: list[str]) -> bool:
    """Cells that are not dates or times (a time column is never a meter)."""
    return not any(DATE_IN_CELL.search(c) or re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", c) for c in cells[:50])


def _direction_of_header(header: str) -> str | None:
    """import/export when a value column's header names a direction, else None."""
    text = UNIT_IN_HEADER.sub(" ", header)
    flow, _ = flow_of(re.sub(r"[_/]+", " ", text))
    return flow


def _may_hold_times(cells: list[str]) -> bool:
    """Whether a column could hold dates, times or hour numbers (a date, a colon, an
    'H01'-style label or whole numbers up to 25 in its first cells)."""
    filled = [c for c in cells[:50] if c]
    if not filled:
        return False
    for cell in filled:
        if DATE_IN_CELL.search(cell) or ":" in cell or re.fullmatch(r"[hH]\d{1,2}[ABab]?|\d{1,2}[ABab]", cell):
            return True
    return all(c.isdigit() and int(c) <= 25 for c in filled)


def _first_cell(samples: dict[str, list[str]], name: str) -> str:
    cell = next((c for c in samples.get(name, []) if c), "")
    return repr(cell[:40])


def _number_format(cells: list[str], options: IngestOptions, column: str) -> NumberFormat:
    try:
        return detect_number_format(_by_shape(cells), decimal_mark=options.decimal_mark, column=column)
    except NumberFormatAmbiguous as exc:
        raise DialectAmbiguous(exc.message, exc.option) from None


def _wide_day(table: TableStart, names: list[str], options: IngestOptions):
    """The interval columns of a wide-by-day file, or None when the columns are not
    named by time. Returns (slots, step minutes, elapsed, convention hint, why)."""
    ranges, times, numbers = [], [], []
    for name in names:
        label = name.split("#")[0] if "#" in name and not name.startswith("#") else name
        if m := SLOT_RANGE.match(label):
            ranges.append((name, int(m.group(1)) * 60 + int(m.group(2)), int(m.group(3)) * 60 + int(m.group(4))))
        elif m := SLOT_TIME.match(label):
            times.append((name, int(m.group(1)) * 60 + int(m.group(2))))
        elif (m := SLOT_NUMBER.match(label)) and not label.startswith("#"):
            fold = {"a": 0, "b": 1}.get((m.group(2) or "").lower())
            numbers.append((name, int(m.group(1)), fold))
    if len(ranges) >= WIDE_DAY_MIN_SLOTS:
        starts = sorted(start for _, start, _ in ranges)
        step = _step(starts)
        slots = [Slot(name, start) for name, start, _ in ranges]
        return slots, step, False, "beginning", "interval columns named by their start and end (00:00-00:15 …)"
    if len(times) >= WIDE_DAY_MIN_SLOTS:
        minutes = sorted(m for _, m in times)
        step = _step(minutes)
        has_zero, has_end = minutes[0] == 0, minutes[-1] == 1440
        convention = options.interval_convention
        if convention == "auto":
            if has_end and not has_zero:
                convention = "ending"
            elif has_zero and not has_end:
                convention = "beginning"
            else:
                raise DialectAmbiguous(
                    "the interval columns are named by one time each and both 00:00 and 24:00 (or neither) "
                    "appear, so they could mark interval starts or ends; "
                    "give --interval-convention beginning or --interval-convention ending",
                    "--interval-convention",
                )
        shift = step if convention == "ending" else 0
        slots = [Slot(name, m - shift) for name, m in times]
        return slots, step, False, convention, f"interval columns named by their {'end' if shift else 'start'} time"
    if len(numbers) >= WIDE_DAY_MIN_SLOTS:
        ks = sorted({k for _, k, _ in numbers})
        if ks[0] == 0:
            return None  # 0-based numbers: unusual; leave them to an explicit mapping
        count = len(ks)
        step = 60 if count <= 25 else 30 if count <= 50 else 15 if count <= 100 else None
        if step is None:
            return None
        slots = [Slot(name, (k - 1) * step, fold) for name, k, fold in numbers]
        return slots, step, True, "beginning", f"interval columns numbered 1 … {ks[-1]} (number k is the k-th interval after midnight)"
    return None


def _step(minutes: list[int]) -> int:
    gaps = [b - a for a, b in zip(minutes, minutes[1:]) if b > a]
    return min(gaps) if gaps else 60
