"""Text columns of an upload onto the reading contract.

The output has the contract's typed columns plus a few derived facts (energy per hour,
position on the interval grid, repeats and conflicts of the same meter and time) that
the Great Expectations suite judges. Problems found while typing a value (a word where
a number belongs, a local time that does not exist) are written to ``parse_error`` so
that the suite can quarantine the row with that reason; nothing here drops a row.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .options import (
    COLUMN_ALIASES,
    ENERGY_UNITS,
    POWER_UNITS,
    UNIT_FROM_VALUE_COLUMN,
    IngestOptions,
    normalise_unit,
)
from .parse import FileRejected, TextBatch

NUMBER_PATTERN = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
ISO_PATTERN = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?"
OFFSET_SUFFIX = r"(Z|[+-]\d{2}(:?\d{2})?)$"
READING_TS = pa.timestamp("ms")
REQUIRED_ROLES = ("timestamp", "value")
MAX_FIELD_CHARS = 1024


@dataclass
class StreamState:
    """What one batch of an upload learns that later batches need: per meter, the
    interval length and the last register read; per meter and repeated local hour,
    how often it has been seen (DST autumn hours are read in order)."""

    intervals: dict[str, int] = field(default_factory=dict)
    register_last: dict[str, tuple[int, float]] = field(default_factory=dict)
    ambiguous_seen: dict[tuple[str, int], int] = field(default_factory=dict)


def _key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def resolve_columns(names: list[str], options: IngestOptions) -> dict[str, str]:
    """Which header plays which role: configured mapping first, then known aliases."""
    by_key = {_key(n): n for n in names}
    roles: dict[str, str] = {}
    for role, header in options.column_map.items():
        if header not in names:
            raise FileRejected(
                f"the mapped column {header!r} (for {role}) is not in the header {names}",
                "missing_column",
            )
        roles[role] = header
    for role, aliases in COLUMN_ALIASES.items():
        if role in roles:
            continue
        taken = set(roles.values())
        for alias in aliases:
            if alias in by_key and by_key[alias] not in taken:
                roles[role] = by_key[alias]
                break
    missing = [r for r in REQUIRED_ROLES if r not in roles]
    if "meter_id" not in roles and options.meter_id is None:
        missing.insert(0, "meter_id")
    if missing:
        hint = "; or give --meter-id for a single-meter file" if "meter_id" in missing else ""
        raise FileRejected(
            f"missing required column(s) {missing}; the header has {names}. "
            f"Rename them, or map them with --column ROLE=HEADER (e.g. --column value=Energy){hint}",
            "missing_column",
        )
    return roles


def _blank_to_null(arr: pa.Array) -> pa.Array:
    stripped = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(stripped, ""), pa.scalar(None, pa.string()), stripped)


def _error_where(mask: pa.Array, message) -> pa.Array:
    """``message`` where ``mask`` holds, else null. ``message`` is a string, or a
    function of the rows' positions that builds per-row text only when needed."""
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return pa.nulls(len(mask), pa.string())
    if isinstance(message, str):
        return pc.if_else(mask, pa.scalar(message, pa.string()), pa.scalar(None, pa.string()))
    positions = pc.indices_nonzero(mask)
    errors = np.full(len(mask), None, dtype=object)
    errors[positions.to_numpy()] = message(positions).to_numpy(zero_copy_only=False)
    return pa.array(errors, pa.string())


def _quoted(arr: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise("'", pc.utf8_slice_codeunits(arr, 0, 40), "'", "")


def parse_numbers(raw: pa.Array, decimal_comma: bool) -> tuple[pa.Array, pa.Array]:
    """Text into float64; returns the values and an error message per bad row."""
    if not decimal_comma:
        try:  # the common case: every cell a plain number
            values = pc.cast(raw, pa.float64())
            if not pc.any(pc.is_nan(values)).as_py() and not pc.any(pc.is_inf(values)).as_py():
                return values, pa.nulls(len(raw), pa.string())
        except pa.ArrowInvalid:
            pass
    text = _blank_to_null(raw)
    if decimal_comma:
        text = pc.replace_substring(text, ",", ".")
    ok = pc.match_substring_regex(text, NUMBER_PATTERN)
    values = pc.cast(pc.if_else(ok, text, pa.scalar(None, pa.string())), pa.float64())
    error = pc.coalesce(
        _error_where(pc.is_null(text), "missing value"),
        _error_where(pc.invert(ok), lambda at: pc.binary_join_element_wise("value ", _quoted(pc.take(text, at)), " is not a number", "")),
    )
    return values, error


def _cast_timestamps(text: pa.Array, target: pa.DataType) -> pa.Array:
    """ISO 8601 text into timestamps; values that look right but are impossible
    (month 13) fall back to a per-value parse so one bad row cannot fail the batch."""
    try:
        return pc.cast(text, target)
    except pa.ArrowInvalid:
        out = []
        for value in text.to_pylist():
            try:
                out.append(pc.cast(pa.array([value]), target)[0].as_py())
            except (pa.ArrowInvalid, TypeError):
                out.append(None)
        return pa.array(out, target)


def parse_timestamps(
    raw: pa.Array, options: IngestOptions
) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Text into UTC instants.

    Returns (utc timestamp or null, naive local wall-clock for naive input, error).
    Offsets are used as given; naive times are read in ``options.timezone`` later.
    """
    text = _blank_to_null(raw)
    if options.timestamp_format:
        fmt = options.timestamp_format
        has_zone = "%z" in fmt
        parsed = pc.strptime(text, format=fmt, unit="ms", error_is_null=True)
        aware = pc.cast(parsed, pa.timestamp("ms", "UTC")) if has_zone else pa.nulls(len(text), pa.timestamp("ms", "UTC"))
        naive = pa.nulls(len(text), READING_TS) if has_zone else pc.cast(parsed, READING_TS)
        bad = pc.is_null(parsed)
        hint = f" (expected the format {fmt!r})"
    else:
        for target in (pa.timestamp("ms", "UTC"), READING_TS):
            try:  # the common case: one ISO 8601 layout throughout the file
                parsed = pc.cast(raw, target)
            except pa.ArrowInvalid:
                continue
            other = pa.nulls(len(raw), READING_TS if target.tz else pa.timestamp("ms", "UTC"))
            nothing = pa.nulls(len(raw), pa.string())
            return (parsed, other, nothing) if target.tz else (other, parsed, nothing)
        iso = pc.match_substring_regex(text, ISO_PATTERN)
        zoned = pc.and_(iso, pc.match_substring_regex(text, ISO_PATTERN + r".*" + OFFSET_SUFFIX))
        plain = pc.and_(iso, pc.match_substring_regex(text, ISO_PATTERN + r"$"))
        none = pa.scalar(None, pa.string())
        aware = _cast_timestamps(pc.if_else(zoned, text, none), pa.timestamp("ms", "UTC"))
        naive = _cast_timestamps(pc.if_else(plain, text, none), READING_TS)
        bad = pc.and_(pc.is_null(aware), pc.is_null(naive))
        hint = " (expected ISO 8601 such as 2024-01-31 13:00:00 or 2024-01-31T13:00:00+01:00, or give --timestamp-format)"
    error = pc.coalesce(
        _error_where(pc.is_null(text), "missing timestamp"),
        _error_where(bad, lambda at: pc.binary_join_element_wise("timestamp ", _quoted(pc.take(text, at)), " cannot be read" + hint, "")),
    )
    return aware, naive, error


def localise(
    naive: pa.Array, meters: pa.Array, tz: str, state: StreamState
) -> tuple[pa.Array, pa.Array]:
    """Naive local times into UTC, resolving DST without guessing.

    A time in the spring-forward gap does not exist: it is an error. A time in the
    autumn repeated hour is ambiguous: the first time a meter reports it is read as
    the earlier instant (summer time), the second as the later one; a third report of
    the same local time is left to the duplicate rules.
    """
    utc_type = pa.timestamp("ms", "UTC")
    if tz == "UTC":
        return pc.cast(naive, utc_type), pa.nulls(len(naive), pa.string())
    early = pc.cast(pc.assume_timezone(naive, tz, ambiguous="earliest", nonexistent="earliest"), utc_type)
    late = pc.cast(pc.assume_timezone(naive, tz, ambiguous="latest", nonexistent="latest"), utc_type)
    differs = pc.fill_null(pc.not_equal(early, late), False).to_numpy(zero_copy_only=False)
    roundtrip = pc.local_timestamp(pc.cast(early, pa.timestamp("ms", tz)))
    nonexistent = pc.fill_null(pc.not_equal(pc.cast(roundtrip, READING_TS), naive), False)
    ambiguous = differs & ~nonexistent.to_numpy(zero_copy_only=False)
    use_late = np.zeros(len(naive), dtype=bool)
    if ambiguous.any():
        positions = np.flatnonzero(ambiguous)
        walls = pc.cast(pc.take(naive, pa.array(positions)), pa.int64()).to_pylist()
        names = pc.take(meters, pa.array(positions)).to_pylist()
        for position, meter, wall in zip(positions, names, walls):  # a few rows a year
            seen = state.ambiguous_seen.get((meter, wall), 0)
            use_late[position] = seen >= 1
            state.ambiguous_seen[(meter, wall)] = seen + 1
    utc = pc.if_else(pa.array(use_late), late, early)
    error = _error_where(
        nonexistent,
        lambda at: pc.binary_join_element_wise(
            "local time ",
            pc.strftime(pc.take(naive, at), format="%Y-%m-%d %H:%M"),
            f" does not exist in {tz} (clocks jump forward for DST); send UTC or an offset",
            "",
        ),
    )
    utc = pc.if_else(nonexistent, pa.scalar(None, utc_type), utc)
    return utc, error


def _per_distinct(raw: pa.Array, interpret, value_type: pa.DataType) -> tuple[pa.Array, pa.Array]:
    """Apply ``interpret(text) -> (value, error)`` once per distinct text of a column
    with few distinct values (units, interval lengths) and spread the results."""
    encoded = pc.dictionary_encode(raw)
    values, errors = zip(*(interpret(t) for t in encoded.dictionary.to_pylist())) if len(encoded.dictionary) else ((), ())
    indices = encoded.indices
    return (
        pc.take(pa.array(values, value_type), indices),
        pc.take(pa.array(errors, pa.string()), indices),
    )


def _interval_of(text: str | None) -> tuple[int | None, str | None]:
    cleaned = (text or "").strip()
    if not cleaned:
        return None, None
    if cleaned.isdigit() and 0 < int(cleaned) <= 1440 and 1440 % int(cleaned) == 0:
        return int(cleaned), None
    return None, f"interval '{cleaned[:40]}' is not a whole number of minutes dividing a day"


def _parse_intervals(raw: pa.Array | None, rows: int) -> tuple[pa.Array, pa.Array]:
    if raw is None:
        return pa.nulls(rows, pa.int32()), pa.nulls(rows, pa.string())
    return _per_distinct(raw, _interval_of, pa.int32())


def _unit_factors(raw: pa.Array, default_unit: str) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Per row: multiplier to kWh for energy units, multiplier to kW for power units
    (one of the two is null), and an error for unknown units."""

    def interpret(text: str | None):
        key = normalise_unit(text) if text and text.strip() else default_unit
        if key is None:
            return (None, None), f"unit '{text.strip()[:40]}' is unknown (use Wh, kWh, MWh or kW)"
        return (ENERGY_UNITS.get(key), POWER_UNITS.get(key)), None

    encoded = pc.dictionary_encode(raw)
    interpreted = [interpret(t) for t in encoded.dictionary.to_pylist()]
    energy = pa.array([i[0][0] for i in interpreted], pa.float64())
    power = pa.array([i[0][1] for i in interpreted], pa.float64())
    errors = pa.array([i[1] for i in interpreted], pa.string())
    return (pc.take(energy, encoded.indices), pc.take(power, encoded.indices), pc.take(errors, encoded.indices))


def infer_intervals(
    meter_names: list[str], meter_codes: np.ndarray, epoch_ms: np.ndarray, valid: np.ndarray, state: StreamState
) -> np.ndarray:
    """Per meter, the most common gap between consecutive distinct readings, in minutes
    (0 where it cannot be inferred: a meter with a single reading so far). What an
    earlier batch inferred for a meter holds for the rest of the upload."""
    idx = np.flatnonzero(valid)
    per_meter: dict[int, int] = {}
    if idx.size:
        order = idx[np.lexsort((epoch_ms[idx], meter_codes[idx]))]
        sorted_meters = meter_codes[order]
        times = epoch_ms[order]
        same_meter = sorted_meters[1:] == sorted_meters[:-1]
        gaps = (times[1:] - times[:-1]) // 60000
        keep = same_meter & (gaps > 0)
        if keep.any():
            pairs, counts = np.unique(
                np.stack([sorted_meters[1:][keep], gaps[keep]], axis=1), axis=0, return_counts=True
            )
            # Most common gap per meter; ties go to the smaller gap.
            for meter, gap in pairs[np.lexsort((pairs[:, 1], -counts, pairs[:, 0]))]:
                per_meter.setdefault(int(meter), int(gap))
    lookup = np.zeros(len(meter_names) + 1, dtype=np.int32)  # last slot: rows without a meter
    for code, name in enumerate(meter_names):
        known = state.intervals.get(name)
        if known is None and code in per_meter:
            known = state.intervals[name] = per_meter[code]
        lookup[code] = known or 0
    return lookup[meter_codes]


def _duplicate_facts(
    meter_codes: np.ndarray, epoch_ms: np.ndarray, kwh: np.ndarray, valid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(is_repeat, key_conflict): a repeat is an exact copy of an earlier row of the
    same meter and time; a conflict is a meter and time reported with different
    values, which cannot be settled from the file, so every such row is flagged."""
    n = len(meter_codes)
    is_repeat = np.zeros(n, dtype=bool)
    conflict = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(valid)
    if idx.size < 2:
        return is_repeat, conflict
    order = idx[np.lexsort((idx, epoch_ms[idx], meter_codes[idx]))]
    m, t, v = meter_codes[order], epoch_ms[order], kwh[order]
    same_key = (m[1:] == m[:-1]) & (t[1:] == t[:-1])
    same_value = same_key & np.isclose(v[1:], v[:-1], rtol=0, atol=1e-9)
    is_repeat[order[1:][same_value]] = True
    # A key conflicts when any two of its rows differ in value.
    key_start = np.ones(len(order), dtype=bool)
    key_start[1:] = ~same_key
    group = np.cumsum(key_start) - 1
    vmin = np.full(group[-1] + 1, np.inf)
    vmax = np.full(group[-1] + 1, -np.inf)
    np.minimum.at(vmin, group, v)
    np.maximum.at(vmax, group, v)
    conflicting_groups = (vmax - vmin) > 1e-9
    conflict[order] = conflicting_groups[group]
    return is_repeat, conflict


def _register_to_interval_energy(
    meter_names: list, epoch_ms: np.ndarray, value: np.ndarray, valid: np.ndarray, state: StreamState
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str]]]:
    """Cumulative register reads into interval energy.

    A read at time t closes the interval that started at the previous read. The first
    read of a meter only opens an interval; a read lower than the one before is a
    register reset or rollover, whose interval energy is unknown. Both are reported,
    never turned into (negative) consumption. The last read of each meter carries over
    to the next batch.
    """
    n = len(meter_names)
    energy = np.full(n, np.nan)
    start_ms = np.full(n, -1, dtype=np.int64)
    problems: list[tuple[int, str]] = []
    idx = np.flatnonzero(valid)
    order = sorted(idx, key=lambda i: (meter_names[i], epoch_ms[i]))
    for pos in order:  # register files are small: one read per interval per meter
        meter = meter_names[pos]
        previous = state.register_last.get(meter)
        if previous is None:
            problems.append((pos, "first register read of the meter: it opens the first interval"))
        elif value[pos] < previous[1]:
            problems.append(
                (pos, f"register fell from {previous[1]:g} to {value[pos]:g} (reset or rollover): interval energy unknown")
            )
        else:
            energy[pos] = value[pos] - previous[1]
            start_ms[pos] = previous[0]
        state.register_last[meter] = (int(epoch_ms[pos]), float(value[pos]))
    return energy, start_ms, problems


def _oversized_fields(table: pa.Table) -> pa.Array:
    """A field longer than MAX_FIELD_CHARS is not a meter reading (a pasted blob, a
    broken quote swallowing lines): the row is quarantined rather than typed."""
    too_long = None
    for column in table.columns:
        long_here = pc.greater(pc.utf8_length(column.combine_chunks()), MAX_FIELD_CHARS)
        too_long = long_here if too_long is None else pc.or_(too_long, long_here)
    return _error_where(too_long, f"a field is longer than {MAX_FIELD_CHARS} characters: not a meter reading")


def normalise(
    batch: TextBatch,
    roles: dict[str, str],
    delimiter: str,
    options: IngestOptions,
    now: dt.datetime,
    state: StreamState,
) -> pa.Table:
    table = batch.table
    rows = table.num_rows

    # Meter
    if "meter_id" in roles:
        meter = _blank_to_null(table[roles["meter_id"]].combine_chunks())
        if options.meter_id:
            meter = pc.fill_null(meter, options.meter_id)
    else:
        meter = pa.repeat(pa.scalar(options.meter_id, pa.string()), rows)
    meter_error = _error_where(pc.is_null(meter), "missing meter id")
    encoded = pc.dictionary_encode(meter)
    meter_codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    meter_names = encoded.dictionary.to_pylist()

    # Value and unit
    decimal_comma = delimiter == ";"
    value, value_error = parse_numbers(table[roles["value"]].combine_chunks(), decimal_comma)
    default_unit = normalise_unit(options.unit) if options.unit else None
    if "unit" in roles:
        unit_column = table[roles["unit"]].combine_chunks()
    else:
        named = UNIT_FROM_VALUE_COLUMN.get(_key(roles["value"]))
        unit_column = pa.repeat(pa.scalar(options.unit or named or "kWh", pa.string()), rows)
    energy_mult, power_mult, unit_error = _unit_factors(unit_column, default_unit or "kwh")

    # Timestamps
    aware, naive, ts_error = parse_timestamps(table[roles["timestamp"]].combine_chunks(), options)
    local_utc, dst_error = localise(naive, meter, options.timezone, state)
    reading_utc = pc.coalesce(aware, local_utc)
    reading_start = pc.cast(pc.cast(reading_utc, pa.timestamp("ms", "UTC")), pa.int64())
    epoch_ms = pc.fill_null(reading_start, 0).to_numpy(zero_copy_only=False)
    has_time = pc.is_valid(reading_start).to_numpy(zero_copy_only=False)

    # Register reads become interval energy before intervals are inferred.
    register_error = pa.nulls(rows, pa.string())
    numeric = pc.fill_null(value, np.nan).to_numpy(zero_copy_only=False)
    if options.register:
        usable = has_time & ~np.isnan(numeric) & (meter_codes >= 0)
        energy, start_ms, problems = _register_to_interval_energy(
            meter.to_pylist(), epoch_ms, numeric, usable, state
        )
        messages = np.full(rows, None, dtype=object)
        for pos, message in problems:
            messages[pos] = message
        register_error = pa.array(messages, pa.string())
        interval_from_reads = np.where(start_ms >= 0, (epoch_ms - start_ms) // 60000, 0).astype(np.int32)
        epoch_ms = np.where(start_ms >= 0, start_ms, epoch_ms)
        value = pa.array(energy, pa.float64(), from_pandas=True)
        reading_start = pa.array(epoch_ms, pa.int64(), mask=~has_time)
    else:
        interval_from_reads = None

    # Interval: column, option, gap between reads, or inferred per meter.
    interval, interval_error = _parse_intervals(table[roles["interval_minutes"]].combine_chunks() if "interval_minutes" in roles else None, rows)
    if options.interval_minutes:
        interval = pc.fill_null(interval, options.interval_minutes)
    if interval_from_reads is not None:
        interval = pc.fill_null(interval, pa.array(np.where(interval_from_reads > 0, interval_from_reads, None), pa.int32(), from_pandas=True))
    if pc.any(pc.is_null(interval)).as_py():
        inferred = infer_intervals(meter_names, meter_codes, epoch_ms, has_time & (meter_codes >= 0), state)
        interval = pc.fill_null(interval, pa.array(np.where(inferred > 0, inferred, None), pa.int32(), from_pandas=True))
    interval_missing = _error_where(
        pc.and_(pc.is_null(interval), pc.is_null(interval_error)),
        "interval length unknown: the meter has a single reading; give --interval-minutes",
    )

    # Energy in kWh.
    kwh = pc.coalesce(
        pc.multiply(value, energy_mult),
        pc.divide(pc.multiply(pc.multiply(value, power_mult), pc.cast(interval, pa.float64())), 60.0),
    )
    kwh_np = pc.fill_null(kwh, np.nan).to_numpy(zero_copy_only=False)

    parse_error = pc.coalesce(
        _oversized_fields(table),
        meter_error, ts_error, dst_error, value_error, unit_error, register_error, interval_error, interval_missing
    )

    ok = pc.is_null(parse_error).to_numpy(zero_copy_only=False)
    is_repeat, key_conflict = _duplicate_facts(meter_codes, epoch_ms, kwh_np, ok & has_time)

    reading_ts = pc.cast(reading_start, READING_TS)
    tz_utc = pc.cast(pc.cast(reading_start, pa.timestamp("ms")), pa.timestamp("ms", "UTC"))
    local_wall = pc.local_timestamp(pc.cast(tz_utc, pa.timestamp("ms", options.timezone)))
    minute_of_day = pc.add(pc.multiply(pc.hour(local_wall), 60), pc.minute(local_wall))
    on_grid_offset = pc.add(
        pc.cast(pc.subtract(minute_of_day, pc.multiply(pc.divide(minute_of_day, interval), interval)), pa.int32()),
        pc.cast(pc.not_equal(pc.add(pc.second(local_wall), pc.millisecond(local_wall)), 0), pa.int32()),
    )
    now_ms = int(now.timestamp() * 1000)
    minutes_ahead = pc.divide(pc.subtract(pc.cast(reading_start, pa.float64()), float(now_ms)), 60000.0)

    return pa.table(
        {
            "row_number": batch.row_numbers,
            "meter_id": meter,
            "reading_start": reading_ts,
            "interval_minutes": pc.cast(interval, pa.int32()),
            "kwh": kwh,
            "timezone": pa.repeat(pa.scalar(options.timezone, pa.string()), rows),
            "parse_error": parse_error,
            "kwh_per_hour": pc.divide(pc.multiply(kwh, 60.0), pc.cast(interval, pa.float64())),
            "grid_offset_minutes": on_grid_offset,
            "minutes_ahead_of_now": minutes_ahead,
            "is_repeat": pa.array(is_repeat),
            "key_conflict": pa.array(key_conflict),
        }
    )
