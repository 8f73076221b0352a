"""Deterministic sample meter data with labelled anomalies.

Two shapes are produced:

* the seed's format, ``timestamp,appliance,kwh``: naive hourly timestamps, a few
  appliances with evening peaks, night lows and noise;
* the long meter format, ``meter_id,timestamp,value,unit,interval_minutes``, for any
  number of meters, days and interval length.

Every injected anomaly is written to a labels file beside the data, so anomaly
detection can be scored (precision / recall) against ground truth. The same seed
always gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

DEFAULT_START = dt.datetime(2024, 1, 1)
# The meter faults generate_long_format can end a meter on (fct_meter_health finds them).
METER_FAULTS = ("stuck", "zero", "silent")
# The level shifts generate_long_format can start on a meter (fct_level_shifts finds them):
# every day from then on scaled up or down, or only the weekends scaled up (a plant left
# running at weekends). Labelled level_shift_high or level_shift_low at the first interval.
LEVEL_SHIFTS = ("all_days_high", "all_days_low", "weekends_high")

# Typical hourly kWh profile per appliance: (base load, evening peak, noise share).
# The refrigerator is the low-load appliance whose spikes sit near the noise floor.
SEED_APPLIANCES: dict[str, tuple[float, float, float]] = {
    "hvac": (0.90, 2.40, 0.10),
    "water_heater": (0.35, 1.50, 0.12),
    "lighting": (0.05, 0.60, 0.10),
    "refrigerator": (0.12, 0.05, 0.08),
}


@dataclass(frozen=True)
class GeneratedFile:
    data_path: Path
    labels_path: Path
    rows: int
    anomalies: int


def _daily_shape(hour_of_day: np.ndarray) -> np.ndarray:
    """0..1 load shape: low at night, a morning bump and a strong evening peak."""
    evening = np.exp(-0.5 * ((hour_of_day - 19.0) / 2.0) ** 2)
    morning = 0.45 * np.exp(-0.5 * ((hour_of_day - 7.5) / 1.3) ** 2)
    night = np.where((hour_of_day < 5) | (hour_of_day >= 23), -0.25, 0.0)
    return np.clip(evening + morning + night + 0.25, 0.0, None)


def _profile(
    rng: np.random.Generator,
    hour_of_day: np.ndarray,
    day_index: np.ndarray,
    base: float,
    peak: float,
    noise: float,
) -> np.ndarray:
    weekday = (DEFAULT_START.weekday() + day_index) % 7
    weekend_factor = np.where(weekday >= 5, 1.15, 1.0)
    expected = (base + peak * _daily_shape(hour_of_day)) * weekend_factor
    return np.clip(expected * (1.0 + rng.normal(0.0, noise, size=expected.shape)), 0.001, None)


def _inject_spikes(rng: np.random.Generator, values: np.ndarray, share: float) -> np.ndarray:
    """Multiply a random share of the readings by 2.5-4x; returns the spiked positions."""
    count = int(round(share * values.size))
    positions = np.sort(rng.choice(values.size, size=count, replace=False))
    values[positions] *= rng.uniform(2.5, 4.0, size=count)
    return positions


def _format_naive(timestamps: np.ndarray) -> pa.Array:
    if timestamps.size == 0:
        return pa.array([], pa.string())
    text = np.datetime_as_string(timestamps.astype("datetime64[s]"), unit="s")
    return pa.array(np.char.replace(text, "T", " "))


def _write(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        out.write((",".join(table.column_names) + "\n").encode())
        pacsv.write_csv(table, out, write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"))


def labels_path_for(data_path: Path) -> Path:
    return data_path.with_name(data_path.name.split(".")[0] + ".labels.csv")


def generate_seed_format(
    path: Path,
    days: int = 30,
    seed: int = 42,
    spike_share: float = 0.05,
    start: dt.datetime = DEFAULT_START,
) -> GeneratedFile:
    """The seed's ``timestamp,appliance,kwh`` file: 4 appliances, hourly, naive times."""
    rng = np.random.default_rng(seed)
    hours = days * 24
    hour_index = np.arange(hours)
    timestamps = np.datetime64(start, "s") + hour_index.astype("timedelta64[h]")
    frames, labels = [], []
    for appliance, (base, peak, noise) in SEED_APPLIANCES.items():
        kwh = _profile(rng, (hour_index % 24).astype(float), hour_index // 24, base, peak, noise)
        spiked = _inject_spikes(rng, kwh, spike_share)
        frames.append((timestamps, np.full(hours, appliance), np.round(kwh, 4)))
        labels.append((timestamps[spiked], np.full(spiked.size, appliance)))

    ts = np.concatenate([f[0] for f in frames])
    order = np.lexsort((np.concatenate([f[1] for f in frames]), ts))
    table = pa.table(
        {
            "timestamp": _format_naive(ts[order]),
            "appliance": pa.array(np.concatenate([f[1] for f in frames])[order]),
            "kwh": pa.array(np.concatenate([f[2] for f in frames])[order]),
        }
    )
    _write(table, path)
    label_ts = np.concatenate([lab[0] for lab in labels])
    label_table = pa.table(
        {
            "timestamp": _format_naive(label_ts),
            "meter_id": pa.array(np.concatenate([lab[1] for lab in labels])),
            "kind": pa.array(["spike"] * label_ts.size),
        }
    )
    labels_file = labels_path_for(path)
    _write(label_table.sort_by([("meter_id", "ascending"), ("timestamp", "ascending")]), labels_file)
    return GeneratedFile(path, labels_file, table.num_rows, label_table.num_rows)


def generate_long_format(
    path: Path,
    meters: int = 10,
    days: int = 30,
    interval_minutes: int = 15,
    seed: int = 7,
    spike_share: float = 0.01,
    start: dt.datetime = DEFAULT_START,
    first_meter: int = 1,
    fault_share: float = 0.0,
    level_shift_share: float = 0.0,
) -> GeneratedFile:
    """Long meter format ``meter_id,timestamp,value,unit,interval_minutes`` in kWh.

    Timestamps are written in UTC with a ``Z`` suffix, so the file is unambiguous
    whatever timezone it is ingested with. Meters are written a block at a time, so
    files of tens of millions of rows need little memory.

    ``fault_share`` of the meters end on a meter fault of 1 to 48 hours
    (``METER_FAULTS``): stuck (the fault's first value repeated), zero (0 kWh) or silent
    (no readings), labelled with its kind at its first interval. Drawn from a stream of
    their own, so a file without faults is the same bytes as before they existed.

    ``level_shift_share`` of the meters change level for good at the start of a local
    day (``LEVEL_SHIFTS``) drawn from day 42 to 21 days before the end (so four weeks of
    baseline and three of shift; none in a file shorter than 63 days): every day scaled
    by 1.35 to 1.7 (high) or 0.4 to 0.65 (low), or the weekends only by 1.8 to 2.5 (a
    plant left running at weekends: a week about a quarter up). Labelled
    ``level_shift_high`` or ``level_shift_low`` at that day's first interval; spikes are
    left as drawn. From a stream of their own, as the faults.
    """
    if 1440 % interval_minutes:
        raise ValueError("interval_minutes must divide a day (1440 minutes)")
    rng = np.random.default_rng(seed)
    per_day = 1440 // interval_minutes
    steps = np.arange(days * per_day)
    timestamps = np.datetime64(start, "s") + (steps * interval_minutes).astype("timedelta64[m]")
    ts_text = pa.array(np.char.add(np.datetime_as_string(timestamps.astype("datetime64[s]"), unit="s"), "Z"))
    hour_of_day = (steps % per_day) * interval_minutes / 60.0
    scale = interval_minutes / 60.0
    unit = pa.array(np.full(steps.size, "kWh"))
    interval = pa.array(np.full(steps.size, interval_minutes, dtype=np.int32))
    day_offset = (start - DEFAULT_START).days
    label_ts, label_ids, label_kinds = [], [], []
    fault_rng = np.random.default_rng([seed, 1])
    shift_rng = np.random.default_rng([seed, 2])
    weekday_of_step = (DEFAULT_START.weekday() + steps // per_day + day_offset) % 7
    rows = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        out.write(b"meter_id,timestamp,value,unit,interval_minutes\n")
        for m in range(first_meter, first_meter + meters):
            meter_id = f"meter-{m:04d}"
            base = rng.uniform(0.5, 5.0)
            peak = base * rng.uniform(0.5, 2.0)
            kwh = _profile(rng, hour_of_day, steps // per_day + day_offset, base, peak, 0.08) * scale
            spiked = _inject_spikes(rng, kwh, spike_share)
            kept = steps.size
            if level_shift_share and days >= 63 and shift_rng.random() < level_shift_share:
                kind = LEVEL_SHIFTS[shift_rng.integers(len(LEVEL_SHIFTS))]
                first = int(shift_rng.integers(42, days - 21 + 1)) * per_day
                shifted = steps >= first
                if kind == "weekends_high":
                    shifted &= weekday_of_step >= 5
                    factor = shift_rng.uniform(1.8, 2.5)
                else:
                    factor = shift_rng.uniform(1.35, 1.7) if kind == "all_days_high" else shift_rng.uniform(0.4, 0.65)
                kwh[shifted] *= factor
                label_ts.append(timestamps[first : first + 1])
                label_ids.append(np.array([meter_id]))
                label_kinds.append(np.array(["level_shift_low" if kind == "all_days_low" else "level_shift_high"]))
            if fault_share and fault_rng.random() < fault_share:
                kind = METER_FAULTS[fault_rng.integers(len(METER_FAULTS))]
                first = steps.size - int(fault_rng.integers(1, 49)) * 60 // interval_minutes
                if kind == "stuck":
                    kwh[first:] = kwh[first]
                elif kind == "zero":
                    kwh[first:] = 0.0
                else:
                    kept = first
                spiked = spiked[spiked < first]
                label_ts.append(timestamps[first : first + 1])
                label_ids.append(np.array([meter_id]))
                label_kinds.append(np.array([kind]))
            table = pa.table(
                {
                    "meter_id": pa.array(np.full(steps.size, meter_id)),
                    "timestamp": ts_text,
                    "value": pa.array(np.round(kwh, 5)),
                    "unit": unit,
                    "interval_minutes": interval,
                }
            ).slice(0, kept)
            pacsv.write_csv(table, out, write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"))
            rows += table.num_rows
            label_ts.append(timestamps[spiked])
            label_ids.append(np.full(spiked.size, meter_id))
            label_kinds.append(np.full(spiked.size, "spike"))
    lt = np.concatenate(label_ts)
    label_table = pa.table(
        {
            "timestamp": _format_naive(lt),
            "meter_id": pa.array(np.concatenate(label_ids)),
            "kind": pa.array(np.concatenate(label_kinds)),
        }
    )
    labels_file = labels_path_for(path)
    _write(label_table, labels_file)
    return GeneratedFile(path, labels_file, rows, label_table.num_rows)
