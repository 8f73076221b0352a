"""The detection stage: an upload's dialect, worked out before any row is typed.

A dialect is where the table starts (``dialect.detect_table``), what each column is and
the layout (``layout.detect_layout``), and two facts only the readings show: whether the
file lists readings oldest or newest first (the repeated autumn hour is resolved in
time order, not row order) and whether its timestamps mark the beginning or the END of
each interval. The dialect is recorded with every ingest and shown by ``energy
inspect``, so a person can check what was decided and why.

Interval convention, when the option is ``auto``: ``ending`` only on evidence (a
``24:00`` or hour 24, hour numbers, an end-time header, a day-aligned file whose first
stamp is one interval after midnight and whose last is midnight); ``beginning`` on the
mirror evidence (first stamp at midnight, last one interval before it). When the two
conventions would both fit and put readings on different days (a stamp at midnight and
no evidence, or evidence both ways), the file is refused with the option that decides.
"""

from __future__ import annotations

import dataclasses
import re
import zoneinfo
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .dialect import TableStart, _split, detect_table
from .errors import DialectAmbiguous
from .layout import Layout, detect_layout, words
from .numbers import parse_numbers
from .options import POWER_UNITS, IngestOptions, normalise_unit
from .parse import TextBatch, Upload, check_text
from .registers import reads_are_irregular

TAIL_BYTES = 64 << 10
UNIT_NAMES = {
    "wh": "Wh (from the header)",
    "kwh": "kWh",
    "mwh": "MWh (from the header)",
    "kw": "kW, average power (from the header)",
    "w": "W (from the header)",
    "mw": "MW (from the header)",
}


@dataclass(frozen=True)
class Dialect:
    table: TableStart
    layout: Layout
    convention: str  # "beginning" or "ending": what a timestamp marks
    descending: bool  # the file lists readings newest first
    evidence: tuple[str, ...] = ()
    register_grid: int | None = None  # register reads at irregular times, resampled to this grid (minutes)
    options: IngestOptions | None = None  # the options in force: those given, and what the file decided (its timezone)
    stamp_zone: str | None = None  # the zone naive times are read in: a zone the header names, else options.timezone

    def _convention_told(self) -> str:
        """The interval convention as the file states it. Interval columns named by their
        end (``00:15`` … ``24:00``) and hour numbers 1..24 are turned into interval starts
        as they are read, so the landed convention is always "beginning"; say both."""
        layout = self.layout
        if layout.kind == "wide_day" and layout.convention_hint == "ending":
            return "ending: the interval columns are named by their end (read as interval beginnings)"
        if layout.hour_numbers:
            return "hour numbers: each counts its interval from midnight (read as interval beginnings)"
        return self.convention

    def record(self, options: IngestOptions) -> dict:
        """What was detected, for the run record and the console: no cell values."""
        layout, table = self.layout, self.table
        values = layout.values[0]
        return {
            "header_row": table.header_row,
            "preamble_lines": table.preamble_lines,
            "layout": {"long": "long", "wide_day": "wide by day", "wide_meter": "wide by meter"}[layout.kind],
            "delimiter": {"\t": "tab"}.get(table.delimiter, table.delimiter),
            "decimal_mark": values.number.decimal,
            "grouping": values.number.grouping,
            "columns": {role: name for role, name in layout.roles.items()},
            "value_columns": [v.column for v in layout.values]
            if layout.kind != "wide_day"
            else f"{len(layout.slots)} interval columns, {layout.slot_minutes} minutes each",
            "time_formats": {name: fmt.describe() for name, fmt in layout.formats.items()},
            "interval_convention": self._convention_told(),
            "order": "newest first" if self.descending else "oldest first",
            "timezone": options.timezone,
            "unit": options.unit
            or ("from the unit column" if "unit" in layout.roles else UNIT_NAMES.get(values.unit or "kwh", values.unit)),
            "flow": (
                "from the flow column"
                if "flow" in layout.roles
                else "per value column"
                if any(v.flow for v in layout.values)
                else options.flow
            ),
            "meter": layout.meter_default or ("one per value column" if layout.kind == "wide_meter" else "from the meter column"),
            "trailing_delimiter": table.trailing_delimiter,
            "register_grid_minutes": self.register_grid,
            "ignored_blank_columns": len(table.blank_columns),
            "evidence": list(self.evidence),
        }


def detect_dialect(upload: Upload, options: IngestOptions, source_key: str) -> Dialect:
    """Detect the dialect of a plain (inflated) upload from its first MiB and last 64 KiB.

    Raises FileRejected when the file is not a usable table, DialectAmbiguous (a
    FileRejected) when the file fits two readings that land different numbers.
    """
    head = check_text(upload)
    table = detect_table(head, options.delimiter, whole=upload.size() <= len(head))
    layout = detect_layout(table, options, source_key)
    evidence = list(layout.evidence)
    options, stamp_zone = _timezone_of_header(layout, options, evidence)
    per_row = max(1, len(layout.slots) or len(layout.values))
    keep = max(20, 1000 // per_row)  # about 1,000 readings at each end: a wide row holds many
    rows = table.sample_rows[:keep] + _tail_rows(upload, table, len(head))[-keep:]
    meters, stamps, naive_order, values = _sample_stamps(rows, table, layout, options, stamp_zone)
    descending = _descending(meters, naive_order)
    if descending:
        evidence.append("readings are listed newest first")
    if options.register is None:
        _refuse_undeclared_registers(layout, options, meters, stamps, values)
    if not options.register:
        _refuse_unstated_unit_of_large_readings(layout, options, meters, stamps, values)
    convention = _convention(layout, options, meters, stamps, evidence)
    grid = None
    if options.register and reads_are_irregular(meters, stamps):
        grid = options.interval_minutes or 60
        evidence.append(
            f"register reads at irregular times: apportioned to a {grid}-minute grid "
            f"(--interval-minutes sets it; rises over gaps above {options.register_max_gap_minutes} minutes are left out)"
        )
    return Dialect(table, layout, convention, descending, tuple(evidence), grid, options, stamp_zone)


# A zone in a time column's header, as Emporia exports it: ``Time Bucket (America/New_York)``,
# or UTC as a word of it: ``Date/time UTC``, ``timestamp_utc``, ``Zeit (UTC)``.
HEADER_ZONE = re.compile(r"[\[(]\s*([A-Za-z]+(?:/[A-Za-z0-9_+-]+)+|UTC)\s*[\])]")


def _zone_of_header(header: str) -> str | None:
    match = HEADER_ZONE.search(header)
    if match:
        try:
            return zoneinfo.ZoneInfo(match.group(1)).key
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return None
    return "UTC" if "utc" in words(header) else None


def _timezone_of_header(layout: Layout, options: IngestOptions, evidence: list[str]) -> tuple[IngestOptions, str | None]:
    """The options in force and the zone the file's naive times are read in, when a time
    column's header names one (``Time Bucket (America/New_York)``, ``Date/time UTC``): the
    file decides how its times read. The meter's local days are counted in the zone given
    by ``--timezone`` or the source; with neither (the default UTC), in the header's zone.
    The options' timezone when no header names a zone (saying so in the evidence when
    that is the default UTC and the times carry no offset)."""
    for column in layout.formats:
        zone = _zone_of_header(column)
        if zone is None:
            continue
        if options.timezone == "UTC" and zone != "UTC":
            evidence.append(f"times read in {zone}, named in the header of the time column; local days counted in it too")
            return dataclasses.replace(options, timezone=zone), zone
        evidence.append(f"times read in {zone}, named in the header of the time column; local days counted in {options.timezone}")
        return options, zone
    if options.timezone == "UTC" and not any(fmt.has_offset for fmt in layout.formats.values()):
        # UTC is the default, not something the file said: a local-clock export read as
        # UTC lands every reading shifted by the offset, and nothing else shows it
        evidence.append(
            "the times carry no zone and none was given: read as UTC; if they are local clock times, "
            "give --timezone (an IANA name such as Europe/Paris)"
        )
    return options, options.timezone


# Interval energy without a unit anywhere (no unit column, header unit, --unit or source
# unit) is read as kWh. Read so, a home's Wh file averages hundreds of kW: numbers that
# land and look like a building's. Above this average power (kW) the file does not decide
# between a large site in kWh and a small one in Wh, so it is refused, naming --unit; a
# file that says its unit is never refused for its size (the cap, --max-kw, still holds).
UNSTATED_UNIT_MAX_KW = 50.0


def _refuse_unstated_unit_of_large_readings(layout: Layout, options: IngestOptions, meters, stamps, values: dict) -> None:
    """Refuse (``--unit``) a file that gives no unit when, read as kWh, a meter's median
    reading is above UNSTATED_UNIT_MAX_KW average power over its interval. The interval is
    ``--interval-minutes``, the slot width of a wide-by-day file, or the median step
    between a meter's sampled stamps.

    Raises DialectAmbiguous naming ``--unit``."""
    if options.unit or "unit" in layout.roles:
        return
    by_column = {v.column: v for v in layout.values}
    for column, numbers in values.items():
        value_column = by_column.get(column, layout.values[0])
        if value_column.unit is not None:
            continue
        for meter, own, at in _per_meter(layout, value_column, column, numbers, meters, stamps):
            readings = np.abs(own[np.isfinite(own)])
            if not len(readings):
                continue
            minutes = options.interval_minutes or layout.slot_minutes
            if minutes is None:
                steps = np.diff(np.unique(at)) / 60_000
                steps = steps[steps > 0]
                if not len(steps):
                    continue
                minutes = float(np.median(steps))
            median = float(np.median(readings))
            kw = median * 60 / minutes
            if kw <= UNSTATED_UNIT_MAX_KW:
                continue
            raise DialectAmbiguous(
                f"the file does not give its unit, and read as kWh the readings of meter {meter!s} average {kw:,.0f} kW "
                f"(median '{median:g}' per {minutes:g}-minute interval): a large site in kWh, or a home or a circuit in Wh? "
                "Give --unit with what the numbers are: energy in Wh, kWh or MWh, or average power in W or kW "
                '(source configuration: "unit": "Wh")',
                "--unit",
            )


def _tail_rows(upload: Upload, table: TableStart, head_size: int) -> list[list[str]]:
    """Rows of the last 64 KiB, when the file is longer than the head: where the latest
    (or, newest first, the earliest) readings are."""
    size = upload.size()
    if size <= head_size:
        return []
    tail = upload.tail(TAIL_BYTES).decode("utf-8", errors="replace").splitlines()[1:]  # the first is cut
    rows = [_split(line, table.delimiter) for line in tail if line.strip()]
    return [r for r in rows if len(r) == len(table.names)]


def _sample_stamps(rows, table: TableStart, layout: Layout, options: IngestOptions, stamp_zone: str):
    """Meters, UTC epoch ms (before any convention shift), local wall-clock ms of the
    sample rows, in file order, and {value column: float64 values (NaN where not a
    number)} of a long or wide-by-meter file; rows without a time dropped."""
    from .normalise import StreamState, _to_utc, row_times, unpivot_wide_day

    if not rows:
        return np.array([], dtype=object), np.array([], dtype=np.int64), np.array([], dtype=np.int64), {}
    columns = {name: pa.array([r[i].strip() for r in rows], pa.string()) for i, name in enumerate(table.names)}
    batch = TextBatch(pa.table(columns), pa.array(np.arange(1, len(rows) + 1), pa.int64()))
    if layout.kind == "wide_day":
        text, times, _ = unpivot_wide_day(batch, layout)
    else:
        text, times = batch.table, row_times(batch.table, layout)
    if "meter_id" in layout.roles:
        meter = text[layout.roles["meter_id"]].combine_chunks()
    else:
        meter = pa.repeat(pa.scalar(layout.meter_default or (layout.values[0].meter_id or ""), pa.string()), text.num_rows)
    epoch, _ = _to_utc(times, meter, stamp_zone, StreamState())
    wall = pc.coalesce(pc.cast(times.naive, pa.int64()), pc.cast(pc.cast(times.aware, pa.timestamp("ms", "UTC")), pa.int64()))
    keep = pc.is_valid(epoch).to_numpy(zero_copy_only=False)
    meters = np.asarray(meter.to_pylist(), dtype=object)[keep]
    values = {}
    # a wide-by-day file's readings are unpivoted into one value column, in time order
    columns = [(WIDE_DAY_VALUES, layout.values[0])] if layout.kind == "wide_day" else [(v.column, v) for v in layout.values]
    for name, column in columns:
        numbers, _, _ = parse_numbers(text[name], column.number)
        values[name] = pc.fill_null(numbers, np.nan).to_numpy(zero_copy_only=False)[keep]
    return (
        meters,
        pc.fill_null(epoch, 0).to_numpy(zero_copy_only=False)[keep],
        pc.fill_null(wall, 0).to_numpy(zero_copy_only=False)[keep],
        values,
    )


WIDE_DAY_VALUES = "__value__"  # the value column of an unpivoted wide-by-day sample (normalise.unpivot_wide_day)

# A run of reads long enough that interval energy never falling across it is not chance,
# and a level so far above the rises that the values cannot be energy per interval: a
# register stands at thousands of kWh and rises by a few a read (ratios of 10^3 to 10^6);
# a load ramping up for a morning, or test readings counting up by 1%, stays below 500.
REGISTER_MIN_READS = 12
REGISTER_LEVEL_OVER_RISE = 500


def _per_meter(layout: Layout, value_column, column: str, numbers, meters, stamps):
    """(meter, its sampled values, their stamps) for each meter of one value column: the
    column's own meter in a wide-by-meter file, else each meter of the meter column."""
    if layout.kind == "wide_meter":
        return [(value_column.meter_id or column, numbers, stamps)]
    return [(m, numbers[meters == m], stamps[meters == m]) for m in dict.fromkeys(meters.tolist())]


def _refuse_undeclared_registers(layout: Layout, options: IngestOptions, meters, stamps, values: dict) -> None:
    """Refuse (``--register``) a file whose values look like cumulative register reads:
    per meter and value column, at least REGISTER_MIN_READS numbers in time order that
    fall at most once (a reset or rollover), rise at least every other read, and whose
    median is at least REGISTER_LEVEL_OVER_RISE times the median rise. Read as interval
    energy such values land the register's level (``1000`` kWh per interval) as energy:
    numbers that look right and are wrong. Interval energy falls again and again within a
    dozen reads. Long, wide-by-meter and wide-by-day files alike.

    Raises DialectAmbiguous naming ``--register`` and ``--no-register``."""
    by_column = {v.column: v for v in layout.values}
    for column, numbers in values.items():
        value_column = by_column.get(column, layout.values[0])
        unit = normalise_unit(options.unit) if options.unit else value_column.unit
        if unit in POWER_UNITS or "unit" in layout.roles:
            continue  # average power, or a unit per row, is not read from a register
        for meter, own, at in _per_meter(layout, value_column, column, numbers, meters, stamps):
            ordered = own[np.argsort(at, kind="stable")]
            ordered = ordered[np.isfinite(ordered)]
            if len(ordered) < REGISTER_MIN_READS:
                continue
            rises = np.diff(ordered)
            positive = rises[rises > 0]
            if (rises < 0).sum() > 1 or len(positive) * 2 < len(rises):
                continue
            step = float(np.median(positive))
            if float(np.median(ordered)) < REGISTER_LEVEL_OVER_RISE * step:
                continue
            where = "the interval values" if column == WIDE_DAY_VALUES else f"column {column!r}"
            raise DialectAmbiguous(
                f"the values of meter {meter!s} in {where} rise read after read over {len(ordered)} reads and stand "
                f"far above their rises (from '{ordered[0]:g}' up by about {step:g} a read): they look like cumulative "
                "register reads, which read as energy would land the register's level in every interval. "
                "Give --register to land the rises between reads as interval energy, or --no-register if each "
                'value is the energy of its own interval (source configuration: "register": true or false)',
                "--register",
            )


def _descending(meters: np.ndarray, wall: np.ndarray) -> bool:
    """Newest first when, within meters, most consecutive rows go back in time."""
    if len(wall) < 2:
        return False
    same = meters[1:] == meters[:-1]
    steps = np.sign(wall[1:] - wall[:-1])[same]
    return bool((steps < 0).sum() > (steps > 0).sum())


def _convention(layout: Layout, options: IngestOptions, meters, stamps, evidence: list[str]) -> str:
    if layout.kind == "wide_day" or layout.hour_numbers:
        return "beginning"  # slot columns and hour numbers are turned into interval starts
    if options.register:
        return "beginning"  # a register is read at an instant: the convention does not apply
    if options.interval_convention != "auto":
        evidence.append(f"interval convention given: {options.interval_convention}")
        return options.interval_convention
    if layout.convention_hint:
        return layout.convention_hint
    if not len(stamps):
        return "beginning"
    import datetime as dt
    import zoneinfo

    zone = zoneinfo.ZoneInfo(options.timezone)

    def local_minute(ms: int) -> int:
        local = dt.datetime.fromtimestamp(ms / 1000, dt.UTC).astimezone(zone)
        return local.hour * 60 + local.minute

    begin, end, at_midnight = _votes(meters, stamps, options.interval_minutes, local_minute)
    stamped_with_offsets = any(fmt.has_offset for fmt in layout.formats.values())
    if not begin and not end and stamped_with_offsets:
        # Stamps given with an offset (UTC, say) may be day-aligned in that frame: the
        # exporter's days, not the meter's local ones. That is evidence too.
        begin, end, _ = _votes(meters, stamps, options.interval_minutes, lambda ms: (ms // 60_000) % 1440)
        begin = [f"{b} (UTC)" for b in begin]
        end = [f"{e} (UTC)" for e in end]
    if begin and not end:
        evidence.append("timestamps mark interval beginnings: " + "; ".join(begin[:2]))
        return "beginning"
    if end and not begin:
        evidence.append("timestamps mark interval ends: " + "; ".join(end[:2]))
        return "ending"
    if not begin and not at_midnight:
        evidence.append("no reading at midnight: both conventions give the same days; read as beginnings")
        return "beginning"
    why = (
        "some readings look like interval beginnings (" + begin[0] + ") and others like ends (" + end[0] + ")"
        if begin and end
        else "the readings do not run from one day boundary to another, and some fall at midnight"
    )
    raise DialectAmbiguous(
        f"cannot tell whether the timestamps mark the beginning or the end of each interval: {why}; "
        "the two conventions put a reading at midnight on different days. "
        "Give --interval-convention beginning or --interval-convention ending "
        '(source configuration: "interval_convention")',
        "--interval-convention",
    )


def _votes(meters, stamps, interval_option, minute_of_day):
    """Per meter, the evidence at the ends of its regular run of readings: (beginning
    votes, ending votes, whether any reading falls at midnight)."""
    begin, end, at_midnight = [], [], False
    for meter in dict.fromkeys(meters.tolist()):
        own = np.sort(stamps[meters == meter])
        steps = np.diff(own) // 60_000
        positive = steps[steps > 0]
        interval = interval_option or (int(Counter(positive.tolist()).most_common(1)[0][0]) if len(positive) else None)
        # The ends of the meter's regular run: a stray reading far from the rest (a
        # future date, a typo) says nothing about the convention.
        regular = np.flatnonzero(steps == interval) if interval else np.array([], dtype=int)
        first_at = int(regular[0]) if len(regular) else 0
        last_at = int(regular[-1]) + 1 if len(regular) else len(own) - 1
        first, last = minute_of_day(int(own[first_at])), minute_of_day(int(own[last_at]))
        at_midnight = at_midnight or any(minute_of_day(int(t)) == 0 for t in own)
        if first == 0:
            begin.append(f"{meter!s}: first reading at midnight")
            # ... and the last at midnight too: whole days and one reading more either
            # way (a stray last reading as beginnings, a stray first one as ends)
            if last_at > first_at and last == 0:
                end.append(f"{meter!s}: last reading at midnight too")
        if interval and last_at > first_at and (last + interval) % 1440 == 0:
            begin.append(f"{meter!s}: last reading one interval before midnight")
        # Ending only on both ends: one interval after midnight to midnight. A first stamp
        # at 00:15 alone is also a start-stamped logger that began a quarter late.
        if interval and interval < 1440 and first == interval and last_at > first_at and last == 0:
            end.append(f"{meter!s}: first reading one interval after midnight and last at midnight")
    return begin, end, at_midnight


def dialect_summary(record: dict) -> list[tuple[str, str]]:
    """(label, text) lines of a dialect record for the console."""
    lines = [
        (
            "header",
            f"line {record['header_row']}" + (f" after {record['preamble_lines']} preamble lines" if record["preamble_lines"] else "")
            if record["header_row"]
            else "none (columns by position #1, #2 …)",
        ),
        ("layout", record["layout"]),
        ("delimiter", repr(record["delimiter"]) + (" (data rows end with one more)" if record["trailing_delimiter"] else "")),
        ("numbers", f"decimal {record['decimal_mark']!r}" + (f", grouping {record['grouping']!r}" if record["grouping"] else "")),
        ("columns", ", ".join(f"{role}={name!r}" for role, name in record["columns"].items())),
        ("values", str(record["value_columns"])),
        ("times", "; ".join(f"{name!r}: {fmt}" for name, fmt in record["time_formats"].items())),
        ("interval convention", record["interval_convention"]),
        ("order", record["order"]),
        ("timezone", record["timezone"]),
        ("unit", record["unit"]),
        ("flow", record["flow"]),
        ("meter", record["meter"]),
    ]
    lines += [("evidence", e) for e in record["evidence"]]
    if record.get("readings_per_meter"):
        per = record["readings_per_meter"]
        shown = ", ".join(f"{m}: {n:,}" for m, n in list(per.items())[:10])
        lines.append(("readings per meter", shown + (f" … ({len(per)} meters)" if len(per) > 10 else "")))
    return lines
