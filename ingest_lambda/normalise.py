"""Text columns of an upload onto the reading contract.

The output has the contract's typed columns plus a few derived facts (energy per hour,
position on the interval grid, repeats and conflicts of the same meter and time) that
the Great Expectations suite judges. Problems found while typing a value (a word where
a number belongs, a local time that does not exist) are written to ``parse_error`` so
that the suite can quarantine the row with that reason; nothing here drops a row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .codes import flow_of, quality_reader
from .layout import Layout
from .numbers import parse_numbers
from .options import ENERGY_UNITS, POWER_UNITS, IngestOptions, normalise_unit
from .parse import TextBatch
from .registers import register_to_interval_energy, resample_register_reads
from .timestamps import combine, minutes_of_day, parse_times

READING_TS = pa.timestamp("ms")
MAX_FIELD_CHARS = 1024


@dataclass
class StreamState:
    """What one batch of an upload learns that later batches need: per meter, the
    interval length and the last register read; per meter and repeated local hour,
    how often it has been seen (DST autumn hours are read in order)."""

    intervals: dict[str, int] = field(default_factory=dict)
    register_last: dict[str, tuple[int, float]] = field(default_factory=dict)
    ambiguous_seen: dict[tuple[str, int], int] = field(default_factory=dict)
    descending: bool = False  # the file lists readings newest first


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


def localise(
    naive: pa.Array, meters: pa.Array, tz: str, state: StreamState, fold: pa.Array | None = None, flows: pa.Array | None = None
) -> tuple[pa.Array, pa.Array]:
    """Naive local times into UTC, resolving DST without guessing.

    A time in the spring-forward gap does not exist: it is an error. A time in the
    autumn repeated hour is ambiguous: a label in the file (``fold``: 0 the earlier,
    summer-time instant, 1 the later) decides; without one, the order in time does: in
    a file listed oldest first the first report of a meter's repeated local time is the
    earlier instant, in a file listed newest first (``state.descending``) the later one.
    Reports are counted per meter and direction (``flows``): an import and an export row
    of one interval are not two reports of the same time. A third report of the same
    local time is left to the duplicate rules.
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
        if flows is not None:
            names = list(zip(names, pc.take(flows, pa.array(positions)).to_pylist()))
        labels = pc.take(fold, pa.array(positions)).to_pylist() if fold is not None else [None] * len(positions)
        for position, meter, wall, label in zip(positions, names, walls, labels):  # a few rows a year
            if label is not None:
                use_late[position] = label == 1
                continue
            seen = state.ambiguous_seen.get((meter, wall), 0)
            use_late[position] = (seen == 0) if state.descending else (seen >= 1)
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
            return (None, None), f"unit '{text.strip()[:40]}' is unknown (use Wh, kWh, MWh, or W or kW for average power)"
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
            pairs, counts = np.unique(np.stack([sorted_meters[1:][keep], gaps[keep]], axis=1), axis=0, return_counts=True)
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


def _duplicate_facts(meter_codes: np.ndarray, epoch_ms: np.ndarray, kwh: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    # A missing reading (NaN) repeats another missing one; it conflicts with a value.
    m, t, v = meter_codes[order], epoch_ms[order], np.where(np.isnan(kwh[order]), -1e300, kwh[order])
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


def _oversized_fields(table: pa.Table) -> pa.Array:
    """A field longer than MAX_FIELD_CHARS is not a meter reading (a pasted blob, a
    broken quote swallowing lines): the row is quarantined rather than typed."""
    too_long = None
    for column in table.columns:
        long_here = pc.greater(pc.utf8_length(column.combine_chunks()), MAX_FIELD_CHARS)
        too_long = long_here if too_long is None else pc.or_(too_long, long_here)
    return _error_where(too_long, f"a field is longer than {MAX_FIELD_CHARS} characters: not a meter reading")


def _add_up_registers(meter_codes, flow, epoch_ms, registers, kwh, usable) -> tuple[pa.Array, np.ndarray]:
    """Rows of one meter, direction and interval from different registers (``Offtake
    day``, ``Offtake night``) become one reading: the first row carries the sum, the
    others are marked ``part_of_sum``. Rows repeating one register are left to the
    duplicate rules, and nothing is summed across batches."""
    n = len(meter_codes)
    part = np.zeros(n, dtype=bool)
    index = np.flatnonzero(usable)
    if index.size < 2:
        return kwh, part
    frame = pa.table(
        {
            "m": pa.array(meter_codes[index]),
            "f": pc.take(flow, pa.array(index)),
            "t": pa.array(np.asarray(epoch_ms)[index]),
            "r": pc.take(registers, pa.array(index)),
            "i": pa.array(index),
            "k": pc.take(kwh, pa.array(index)),
        }
    )
    groups = frame.group_by(["m", "f", "t"]).aggregate([("r", "count_distinct"), ("i", "count"), ("i", "min"), ("k", "sum")])
    summed = groups.filter(pc.and_(pc.greater(groups["r_count_distinct"], 1), pc.equal(groups["r_count_distinct"], groups["i_count"])))
    if not summed.num_rows:
        return kwh, part
    members = frame.join(summed.select(["m", "f", "t", "i_min", "k_sum"]), ["m", "f", "t"])
    first = members.filter(pc.equal(members["i"], members["i_min"]))
    part[members.filter(pc.not_equal(members["i"], members["i_min"]))["i"].to_numpy()] = True
    values = pc.fill_null(kwh, np.nan).to_numpy(zero_copy_only=False).copy()
    values[first["i"].to_numpy()] = first["k_sum"].to_numpy(zero_copy_only=False)
    return pa.array(values, pa.float64(), from_pandas=True), part


def _column(table: pa.Table, name: str) -> pa.Array:
    return table[name].combine_chunks()


@dataclass
class TimedRows:
    """The reading times of a batch's rows (or of an unpivoted batch's readings).

    ``naive`` holds wall-clock times to localise (or local midnight where ``elapsed``
    holds minutes counted in elapsed time from it: hour numbers); ``aware`` instants
    given with an offset; ``fold`` the file's DST label; ``stamps`` says the times are
    timestamps the interval convention applies to (not interval starts by construction).
    """

    aware: pa.Array
    naive: pa.Array
    elapsed: pa.Array | None
    fold: pa.Array
    error: pa.Array
    stamps: bool


def row_times(table: pa.Table, layout: Layout) -> TimedRows:
    """The times of a long or wide-by-meter batch, from its time columns."""
    rows = table.num_rows
    roles, formats = layout.roles, layout.formats
    no_fold = pa.nulls(rows, pa.int8())
    if "timestamp" in roles:
        parsed = parse_times(_column(table, roles["timestamp"]), formats[roles["timestamp"]])
        return TimedRows(parsed.aware, parsed.naive, None, parsed.fold, parsed.error, True)
    day = parse_times(_column(table, roles["date"]), formats[roles["date"]])
    clock_role = "time" if "time" in roles else "hour"
    minutes, fold, error = minutes_of_day(_column(table, roles[clock_role]), formats[roles[clock_role]])
    error = pc.coalesce(day.error, error)
    if clock_role == "time":
        return TimedRows(day.aware, combine(day.naive, minutes), None, pc.coalesce(fold, day.fold), error, True)
    # Hour numbers count hours from midnight in elapsed time (hour 25 exists on an
    # autumn clock-change day); a labelled hour (02A/02B) is a wall-clock hour.
    labelled = pc.is_valid(fold)
    naive = pc.if_else(labelled, combine(day.naive, minutes), day.naive)
    elapsed = pc.if_else(labelled, pa.scalar(None, pa.int32()), pc.cast(minutes, pa.int32()))
    return TimedRows(day.aware, naive, elapsed, fold if fold is not None else no_fold, error, False)


def unpivot_wide_day(batch: TextBatch, layout: Layout) -> tuple[pa.Table, TimedRows, pa.Array]:
    """A wide-by-day batch (a row per day, a column per interval) as one row per
    reading: (text table with the value in ``__value__``, times, row numbers).

    Readings are listed day by day, each day's intervals in order, so a meter's
    readings stay in time order."""
    table = batch.table
    rows, slots = table.num_rows, layout.slots
    day = parse_times(_column(table, layout.roles["date"]), layout.formats[layout.roles["date"]])
    n_slots = len(slots)
    # Row-major order: reading (row r, slot s) at r * n_slots + s.
    order = pa.array((np.arange(n_slots)[None, :] * rows + np.arange(rows)[:, None]).ravel(), pa.int64())
    values = pc.take(pa.concat_arrays([_column(table, s.column) for s in slots]), order)
    repeat = pa.array(np.repeat(np.arange(rows), n_slots), pa.int64())
    minutes = pa.array(np.tile([s.minutes for s in slots], rows), pa.int32())
    folds = pa.array(np.tile([-1 if s.fold is None else s.fold for s in slots], rows), pa.int8())
    folds = pc.if_else(pc.equal(folds, -1), pa.scalar(None, pa.int8()), folds)
    midnight = pc.take(day.naive, repeat)
    if layout.slot_elapsed:
        labelled = pc.is_valid(folds)
        naive = pc.if_else(labelled, combine(midnight, minutes), midnight)
        elapsed = pc.if_else(labelled, pa.scalar(None, pa.int32()), minutes)
    else:
        naive, elapsed = combine(midnight, minutes), None
    columns = {"__value__": values}
    for role in ("meter_id", "unit", "interval_minutes", "quality", "flow"):
        if role in layout.roles:
            columns[layout.roles[role]] = pc.take(_column(table, layout.roles[role]), repeat)
    times = TimedRows(pc.take(day.aware, repeat), naive, elapsed, folds, pc.take(day.error, repeat), False)
    return pa.table(columns), times, pc.take(batch.row_numbers, repeat)


def _tile(array: pa.Array, times: int) -> pa.Array:
    return array if times == 1 else pa.concat_arrays([array] * times)


def _to_utc(times: TimedRows, meter: pa.Array, tz: str, state: StreamState, flow: pa.Array | None = None) -> tuple[pa.Array, pa.Array]:
    """UTC instants in epoch milliseconds (null where unknown) and errors."""
    local, dst_error = localise(times.naive, meter, tz, state, times.fold, flow)
    utc = pc.coalesce(times.aware, local)
    epoch = pc.cast(pc.cast(utc, pa.timestamp("ms", "UTC")), pa.int64())
    if times.elapsed is not None:
        has_elapsed = pc.is_valid(times.elapsed)
        if pc.any(has_elapsed).as_py():
            # The day's length on the local clock: 23, 24 or 25 hours.
            next_day = pc.add(pc.cast(times.naive, pa.int64()), 86_400_000)
            next_local, _ = localise(pc.cast(next_day, READING_TS), meter, tz, StreamState())
            day_minutes = pc.divide(pc.subtract(pc.cast(pc.cast(next_local, pa.timestamp("ms", "UTC")), pa.int64()), epoch), 60_000)
            shifted = pc.add(epoch, pc.multiply(pc.cast(times.elapsed, pa.int64()), 60_000))
            beyond = pc.and_(has_elapsed, pc.greater_equal(pc.cast(times.elapsed, pa.int64()), day_minutes))
            epoch = pc.if_else(has_elapsed, shifted, epoch)
            dst_error = pc.coalesce(
                dst_error,
                _error_where(
                    beyond,
                    lambda at: pc.binary_join_element_wise(
                        "interval ",
                        pc.cast(pc.add(pc.divide(pc.take(times.elapsed, at), 60), 1), pa.string()),
                        " of ",
                        pc.strftime(pc.take(times.naive, at), format="%Y-%m-%d"),
                        f" is past the end of that day in {tz} (a 23- or 24-hour day)",
                        "",
                    ),
                ),
            )
            epoch = pc.if_else(beyond, pa.scalar(None, pa.int64()), epoch)
    return epoch, pc.coalesce(times.error, dst_error)


def normalise(
    batch: TextBatch,
    dialect,
    options: IngestOptions,
    now: dt.datetime,
    state: StreamState,
) -> pa.Table:
    """A batch of text rows onto the reading contract, with the facts the suite judges.

    Returns one row per reading (a wide row gives one per interval or meter) with
    ``row_number`` (the source data row), the contract's columns, ``parse_error`` (why
    a reading cannot be used, or null), ``is_net`` (a net meter's reading: the
    pipeline adds its complementary zero of the other direction) and the derived
    columns of the Great Expectations suite. Nothing here drops a reading.
    """
    layout = dialect.layout
    table = batch.table
    if layout.kind == "wide_day":
        table, times, row_numbers = unpivot_wide_day(batch, layout)
        value_columns = [("__value__", layout.values[0])]
        batch_row = pa.array(np.repeat(np.arange(batch.table.num_rows), len(layout.slots)), pa.int64())
    else:
        times = row_times(table, layout)
        row_numbers = batch.row_numbers
        value_columns = [(v.column, v) for v in layout.values]
        batch_row = pa.array(np.tile(np.arange(table.num_rows), len(value_columns)), pa.int64())
    blocks = len(value_columns)
    rows = table.num_rows * blocks

    # Meter: a column, the channel of a wide-by-meter file, or the file's one meter.
    if "meter_id" in layout.roles:
        meter = _blank_to_null(_column(table, layout.roles["meter_id"]))
        meter = pc.replace_substring(meter, "\x00", "") if pc.any(pc.match_substring(meter, "\x00")).as_py() else meter
        # Spreadsheet text guards around long ids (Fluvius' ="5414…", Smart Meter Texas'
        # '1008…'): the id is what they guard, or the same meter lands under two ids.
        if pc.any(pc.match_substring_regex(meter, r"^(=\"|')")).as_py():
            meter = pc.replace_substring_regex(meter, r"^=\"(.*)\"$", r"\1")
            meter = pc.replace_substring_regex(meter, r"^'", "")
        if options.meter_id:
            meter = pc.fill_null(meter, options.meter_id)
        meter = _tile(meter, blocks)
    elif layout.kind == "wide_meter":
        meter = pa.concat_arrays([pa.repeat(pa.scalar(v.meter_id, pa.string()), table.num_rows) for _, v in value_columns])
    else:
        meter = pa.repeat(pa.scalar(layout.meter_default, pa.string()), rows)
    meter_error = _error_where(pc.is_null(meter), "missing meter id")
    if blocks > 1:
        times = TimedRows(
            _tile(times.aware, blocks),
            _tile(times.naive, blocks),
            None if times.elapsed is None else _tile(times.elapsed, blocks),
            _tile(times.fold, blocks),
            _tile(times.error, blocks),
            times.stamps,
        )
        row_numbers = _tile(row_numbers, blocks)
    encoded = pc.dictionary_encode(meter)
    meter_codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    meter_names = encoded.dictionary.to_pylist()

    # Values: each column in its own number format; placeholders are missing readings.
    parsed = [parse_numbers(_column(table, name), column.number) for name, column in value_columns]
    value = pa.concat_arrays([p[0] for p in parsed]) if blocks > 1 else parsed[0][0]
    placeholder = pa.concat_arrays([p[1] for p in parsed]) if blocks > 1 else parsed[0][1]
    value_error = pa.concat_arrays([p[2] for p in parsed]) if blocks > 1 else parsed[0][2]

    # Units: a unit column, the option, the header, or kWh.
    if "unit" in layout.roles:
        unit_column = _tile(_column(table, layout.roles["unit"]), blocks)
        default_unit = normalise_unit(options.unit) if options.unit else "kwh"
    else:
        unit_column = (
            pa.concat_arrays(
                [pa.repeat(pa.scalar(options.unit or column.unit or "kWh", pa.string()), table.num_rows) for _, column in value_columns]
            )
            if blocks > 1
            else pa.repeat(pa.scalar(options.unit or value_columns[0][1].unit or "kWh", pa.string()), rows)
        )
        default_unit = "kwh"
    energy_mult, power_mult, unit_error = _unit_factors(unit_column, default_unit)

    # Direction: a column per row, a column per direction, or the source's option.
    flow_error = pa.nulls(rows, pa.string())
    if "flow" in layout.roles:
        flow, flow_error = _per_distinct(_tile(_column(table, layout.roles["flow"]), blocks), flow_of, pa.string())
    elif any(column.flow for _, column in value_columns):
        flow = pa.concat_arrays([pa.repeat(pa.scalar(column.flow or "import"), table.num_rows) for _, column in value_columns])
    else:
        flow = pa.repeat(pa.scalar("export" if options.flow == "export" else "import"), rows)
    is_net = options.flow == "net" and "flow" not in layout.roles and not any(c.flow for _, c in value_columns)

    # Quality: the file's codes, else measured; a placeholder is a missing reading.
    quality_error = pa.nulls(rows, pa.string())
    if "quality" in layout.roles:
        quality_code = _blank_to_null(_tile(_column(table, layout.roles["quality"]), blocks))
        quality, quality_error = _per_distinct(quality_code, quality_reader(layout.roles["quality"], options.quality_codes), pa.string())
    else:
        quality_code = pa.nulls(rows, pa.string())
        quality = pa.repeat(pa.scalar("measured"), rows)
    missing = pc.or_(placeholder, pc.equal(quality, "missing")) if "quality" in layout.roles else placeholder
    any_missing = pc.any(missing).as_py()
    if any_missing:
        quality = pc.if_else(missing, pa.scalar("missing"), quality)

    # Times: UTC instants; the interval convention is applied once intervals are known.
    epoch, time_error = _to_utc(times, meter, dialect.stamp_zone, state, flow)
    epoch_ms = pc.fill_null(epoch, 0).to_numpy(zero_copy_only=False)
    has_time = pc.is_valid(epoch).to_numpy(zero_copy_only=False)
    reading_start = epoch

    # Register reads become interval energy before intervals are inferred.
    register_error = pa.nulls(rows, pa.string())
    numeric = pc.fill_null(value, np.nan).to_numpy(zero_copy_only=False)
    interval_from_reads = None
    oversized = _oversized_fields(table) if blocks == 1 else _tile(_oversized_fields(table), blocks)
    part_of_sum = np.zeros(rows, dtype=bool)
    grid = getattr(dialect, "register_grid", None)
    if options.register and grid:
        # Reads at irregular times: one row per grid interval a read completes, per read
        # that lands nothing (with why), and per read whose energy lands in a later interval.
        usable = has_time & ~np.isnan(numeric) & (meter_codes >= 0)
        intervals, problems, absorbed = resample_register_reads(
            meter.to_pylist(), epoch_ms, numeric, usable, state, grid, options.register_max_gap_minutes
        )
        by_read: dict[int, list[tuple[int, float]]] = {}
        for pos, start, energy in intervals:
            by_read.setdefault(pos, []).append((start, energy))
        src, starts, energies, messages, parts = [], [], [], [], []
        for pos in range(rows):
            if pos in by_read:
                for start, energy in by_read[pos]:
                    src.append(pos)
                    starts.append(start)
                    energies.append(energy)
                    messages.append(None)
                    parts.append(False)
                continue
            src.append(pos)
            starts.append(int(epoch_ms[pos]) - int(epoch_ms[pos]) % (grid * 60_000))
            energies.append(np.nan)
            messages.append(problems.get(pos))
            parts.append(pos in absorbed)
        at = pa.array(src, pa.int64())
        meter, row_numbers, batch_row = pc.take(meter, at), pc.take(row_numbers, at), pc.take(batch_row, at)
        meter_error, value_error, unit_error, time_error = (pc.take(a, at) for a in (meter_error, value_error, unit_error, time_error))
        energy_mult, power_mult, flow, flow_error = (pc.take(a, at) for a in (energy_mult, power_mult, flow, flow_error))
        quality, quality_code, quality_error, missing = (pc.take(a, at) for a in (quality, quality_code, quality_error, missing))
        oversized = pc.take(oversized, at)
        meter_codes = np.asarray(meter_codes)[src]
        rows = len(src)
        has_time = np.asarray(has_time)[src]
        epoch_ms = np.where(has_time, np.asarray(starts, dtype=np.int64), 0)
        reading_start = pa.array(epoch_ms, pa.int64(), mask=~has_time)
        value = pa.array(energies, pa.float64(), from_pandas=True)
        register_error = pa.array(messages, pa.string())
        part_of_sum = np.asarray(parts, dtype=bool)
        interval_from_reads = np.full(rows, grid, dtype=np.int32)
    elif options.register:
        usable = has_time & ~np.isnan(numeric) & (meter_codes >= 0)
        energy, start_ms, problems = register_to_interval_energy(meter.to_pylist(), epoch_ms, numeric, usable, state)
        messages = np.full(rows, None, dtype=object)
        for pos, message in problems:
            messages[pos] = message
        register_error = pa.array(messages, pa.string())
        interval_from_reads = np.where(start_ms >= 0, (epoch_ms - start_ms) // 60000, 0).astype(np.int32)
        epoch_ms = np.where(start_ms >= 0, start_ms, epoch_ms)
        value = pa.array(energy, pa.float64(), from_pandas=True)
        reading_start = pa.array(epoch_ms, pa.int64(), mask=~has_time)

    # Interval: column, option, wide slots, hour numbers, gap between reads, or inferred.
    interval, interval_error = _parse_intervals(
        _tile(_column(table, layout.roles["interval_minutes"]), blocks)
        if "interval_minutes" in layout.roles and not (options.register and grid)
        else None,
        rows,
    )
    if options.interval_minutes:
        interval = pc.fill_null(interval, options.interval_minutes)
    elif layout.slot_minutes:
        interval = pc.fill_null(interval, layout.slot_minutes)
    elif layout.hour_numbers:
        interval = pc.fill_null(interval, 60)
    if interval_from_reads is not None:
        interval = pc.fill_null(
            interval, pa.array(np.where(interval_from_reads > 0, interval_from_reads, None), pa.int32(), from_pandas=True)
        )
    if pc.any(pc.is_null(interval)).as_py():
        inferred = infer_intervals(meter_names, meter_codes, epoch_ms, has_time & (meter_codes >= 0), state)
        interval = pc.fill_null(interval, pa.array(np.where(inferred > 0, inferred, None), pa.int32(), from_pandas=True))
    interval_missing = _error_where(
        pc.and_(pc.is_null(interval), pc.is_null(interval_error)),
        "interval length unknown: the meter has a single reading; give --interval-minutes",
    )
    if times.stamps and dialect.convention == "ending" and not options.register:
        # A stamp marks the end of its interval: the reading starts one interval before.
        reading_start = pc.subtract(reading_start, pc.multiply(pc.cast(interval, pa.int64()), 60_000))
        epoch_ms = pc.fill_null(reading_start, 0).to_numpy(zero_copy_only=False)

    # Energy in kWh, always positive: a net meter's sign is its direction.
    kwh = pc.coalesce(
        pc.multiply(value, energy_mult),
        pc.divide(pc.multiply(pc.multiply(value, power_mult), pc.cast(interval, pa.float64())), 60.0),
    )
    if is_net:
        negative = pc.fill_null(pc.less(kwh, 0), False)
        flow = pc.if_else(negative, pa.scalar("export"), flow)
        kwh = pc.abs(kwh)
    if any_missing:  # a reading the file marks as missing has no energy, whatever the cell says
        kwh = pc.if_else(missing, pa.scalar(None, pa.float64()), kwh)
    kwh_np = pc.fill_null(kwh, np.nan).to_numpy(zero_copy_only=False)

    parse_error = pc.coalesce(
        oversized,
        meter_error,
        time_error,
        value_error,
        unit_error,
        flow_error,
        quality_error,
        register_error,
        interval_error,
        interval_missing,
    )

    ok = pc.is_null(parse_error).to_numpy(zero_copy_only=False)
    if "flow" in layout.roles and not grid:
        # Tariff registers of one direction (day/night, peak/off-peak) on rows of their
        # own add up into that direction's reading of the interval.
        registers = _blank_to_null(_tile(_column(table, layout.roles["flow"]), blocks))
        kwh, summed = _add_up_registers(meter_codes, flow, epoch_ms, registers, kwh, ok & has_time & ~part_of_sum)
        part_of_sum = part_of_sum | summed
    if "flow" in layout.roles or is_net or any(c.flow for _, c in value_columns):
        flow_codes = pc.fill_null(pc.equal(flow, "export"), False).to_numpy(zero_copy_only=False).astype(np.int64)
        key_codes = meter_codes.astype(np.int64) * 2 + flow_codes
    else:  # one direction for the whole file: the meter is the key
        key_codes = meter_codes
    kwh_np = pc.fill_null(kwh, np.nan).to_numpy(zero_copy_only=False)
    is_repeat, key_conflict = _duplicate_facts(key_codes, epoch_ms, kwh_np, ok & has_time & ~part_of_sum)

    reading_ts = pc.cast(reading_start, READING_TS)
    tz_utc = pc.cast(reading_ts, pa.timestamp("ms", "UTC"))
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
            "row_number": row_numbers,
            "batch_row": batch_row,  # the reading's row in the text batch
            "meter_id": meter,
            "reading_start": reading_ts,
            "interval_minutes": pc.cast(interval, pa.int32()),
            "kwh": kwh,
            "timezone": pa.repeat(pa.scalar(options.timezone, pa.string()), rows),
            "flow": flow,
            "quality": quality,
            "quality_code": quality_code,
            "is_net": pa.repeat(pa.scalar(is_net), rows),
            "part_of_sum": pa.array(part_of_sum),  # a tariff register added into another row's reading
            "parse_error": parse_error,
            # average power over the interval, kW: what the max_kw cap is on
            "average_kw": pc.divide(pc.multiply(kwh, 60.0), pc.cast(interval, pa.float64())),
            "grid_offset_minutes": on_grid_offset,
            "minutes_ahead_of_now": minutes_ahead,
            "is_repeat": pa.array(is_repeat),
            "key_conflict": pa.array(key_conflict),
        }
    )
