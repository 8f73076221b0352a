import csv
import hashlib
from collections import defaultdict
from statistics import mean

from sampledata.generator import generate_long_format, generate_seed_format


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
