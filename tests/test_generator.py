import csv
import datetime as dt
import hashlib
import statistics
from collections import defaultdict
from statistics import mean

from sampledata.generator import generate_long_format, generate_seed_format


def readings_by_meter(path):
    """A generated file's (timestamp, value) pairs per meter, in file order."""
    readings = defaultdict(list)
    with path.open() as handle:
        for row in csv.DictReader(handle):
            readings[row["meter_id"]].append((row["timestamp"], float(row["value"])))
    return readings


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_seed_format_is_deterministic(tmp_path):
    a = generate_seed_format(tmp_path / "a.csv", seed=42)
    b = generate_seed_format(tmp_path / "b.csv", seed=42)
    c = generate_seed_format(tmp_path / "c.csv", seed=43)
    assert digest(a.data_path) == digest(b.data_path)
    assert digest(a.labels_path) == digest(b.labels_path)
    assert digest(a.data_path) != digest(c.data_path)


def test_seed_format_shape(tmp_path):
    result = generate_seed_format(tmp_path / "sample.csv")
    with result.data_path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert result.data_path.read_text().splitlines()[0] == "timestamp,appliance,kwh"
    assert len(rows) == result.rows == 2880
    appliances = {r["appliance"] for r in rows}
    assert len(appliances) == 4
    assert len({r["timestamp"] for r in rows}) == 30 * 24
    # Evening peak above night low for every appliance with a daily shape.
    by_hour = defaultdict(list)
    for r in rows:
        by_hour[(r["appliance"], int(r["timestamp"][11:13]))].append(float(r["kwh"]))
    for appliance in appliances - {"refrigerator"}:
        assert mean(by_hour[(appliance, 19)]) > 1.5 * mean(by_hour[(appliance, 3)])
    # About 5% injected spikes, each one listed in the labels file and present in the data.
    with result.labels_path.open() as handle:
        labels = list(csv.DictReader(handle))
    assert len(labels) == result.anomalies
    assert 0.04 <= len(labels) / len(rows) <= 0.06
    keys = {(r["timestamp"], r["appliance"]) for r in rows}
    assert all((lab["timestamp"], lab["meter_id"]) in keys for lab in labels)


def test_long_format_shape_and_determinism(tmp_path):
    a = generate_long_format(tmp_path / "a.csv", meters=3, days=2, interval_minutes=15)
    b = generate_long_format(tmp_path / "b.csv", meters=3, days=2, interval_minutes=15)
    assert digest(a.data_path) == digest(b.data_path)
    with a.data_path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["meter_id", "timestamp", "value", "unit", "interval_minutes"]
    assert len(rows) == a.rows == 3 * 2 * 96
    assert {r["meter_id"] for r in rows} == {"meter-0001", "meter-0002", "meter-0003"}
    assert {r["interval_minutes"] for r in rows} == {"15"}
    assert all(r["timestamp"].endswith("Z") for r in rows)


def test_meter_faults_are_applied_and_labelled(tmp_path):
    plain = generate_long_format(tmp_path / "plain.csv", meters=40, days=5, interval_minutes=30, seed=5)
    faulty = generate_long_format(tmp_path / "faulty.csv", meters=40, days=5, interval_minutes=30, seed=5, fault_share=0.5)
    before, after = readings_by_meter(plain.data_path), readings_by_meter(faulty.data_path)
    with faulty.labels_path.open() as handle:
        faults = {r["meter_id"]: (r["kind"], r["timestamp"]) for r in csv.DictReader(handle) if r["kind"] != "spike"}
    assert 10 <= len(faults) <= 30
    assert {kind for kind, _ in faults.values()} == {"stuck", "zero", "silent"}
    for meter, readings in before.items():
        if meter not in faults:
            assert after[meter] == readings
            continue
        kind, start = faults[meter]
        first = next(i for i, (ts, _) in enumerate(readings) if ts.rstrip("Z").replace("T", " ") == start)
        hours = (len(readings) - first) / 2
        assert 1 <= hours <= 48
        assert after[meter][:first] == readings[:first] or kind != "silent"
        tail = [value for _, value in after[meter][first:]]
        if kind == "silent":
            assert after[meter] == readings[:first]
        elif kind == "zero":
            assert tail == [0.0] * (len(readings) - first)
        else:
            assert len(set(tail)) == 1 and tail[0] > 0 and len(tail) == len(readings) - first


def test_level_shifts_are_applied_and_labelled(tmp_path):
    """A shifted meter's readings from the labelled day on are the plain file's times one
    factor (every day, or Saturdays and Sundays only); before it, and on every other
    meter, they are the plain file's."""
    plain = generate_long_format(tmp_path / "plain.csv", meters=30, days=70, interval_minutes=60, seed=9)
    shifted = generate_long_format(tmp_path / "shifted.csv", meters=30, days=70, interval_minutes=60, seed=9, level_shift_share=0.5)

    before, after = readings_by_meter(plain.data_path), readings_by_meter(shifted.data_path)
    with shifted.labels_path.open() as handle:
        shifts = {r["meter_id"]: (r["kind"], r["timestamp"]) for r in csv.DictReader(handle) if r["kind"].startswith("level_shift")}
    assert 5 <= len(shifts) <= 25
    assert {kind for kind, _ in shifts.values()} == {"level_shift_high", "level_shift_low"}
    for meter, readings in before.items():
        if meter not in shifts:
            assert after[meter] == readings
            continue
        kind, start = shifts[meter]
        first = next(i for i, (ts, _) in enumerate(readings) if ts.rstrip("Z").replace("T", " ") == start)
        assert start.endswith("00:00:00") and 42 * 24 <= first <= (70 - 21) * 24
        assert after[meter][:first] == readings[:first]
        ratios = [
            (dt.datetime.fromisoformat(ts.rstrip("Z")).weekday() >= 5, new / old)
            for (ts, old), (_, new) in zip(readings[first:], after[meter][first:])
        ]
        changed = {round(ratio, 2) for _, ratio in ratios if abs(ratio - 1) > 0.01}
        assert len(changed) <= 2  # one factor (rounding to 5 decimals moves it a little)
        factor = statistics.median(ratio for _, ratio in ratios if abs(ratio - 1) > 0.01)
        weekdays_changed = any(abs(ratio - 1) > 0.01 for weekend, ratio in ratios if not weekend)
        if kind == "level_shift_low":
            assert 0.4 <= factor <= 0.65 and weekdays_changed
        elif weekdays_changed:
            assert 1.35 <= factor <= 1.7
        else:
            assert 1.8 <= factor <= 2.5
