"""Cumulative register values read at irregular times (a home-energy history: one
value whenever the register changed), apportioned to a regular grid. The energy of a
grid interval is checked against numpy's linear interpolation of the register at the
interval's ends: the same model, computed independently."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest_lambda.options import IngestOptions
from ingest_lambda.pipeline import ingest_bytes
from ingest_lambda.storage import Lakehouse

NOW = dt.datetime(2026, 1, 15, tzinfo=dt.UTC)
START = dt.datetime(2024, 1, 1)


def land(home, reads: list[tuple[int, float]], **options):
    text = "meter_id,timestamp,value\n" + "".join(f"h1,{START + dt.timedelta(minutes=m):%Y-%m-%d %H:%M:%S},{v!r}\n" for m, v in reads)
    report = ingest_bytes(text.encode(), "raw/history.csv", Lakehouse.local(str(home)), IngestOptions(register=True, **options), now=NOW)
    files = sorted((home / "lake" / "readings").glob("*/*.parquet"))
    rows = pq.ParquetDataset(files).read().to_pylist() if files else []
    assert report.rows_landed + report.rows_quarantined == report.rows_in
    return report, {int((r["reading_start"] - START).total_seconds() // 60): r["kwh"] for r in rows}


def test_a_hand_counted_history(tmp_path):
    reads = [
        (0, 1000.0),
        (20, 1000.5),
        (70, 1001.5),
        (120, 1002.0),
        (150, 1002.0),
        (240, 1002.0),
        (285, 1003.5),
        (300, 1004.0),
        (720, 1010.0),
        (750, 1010.5),
        (780, 1011.0),
    ]
    report, got = land(tmp_path, reads)
    assert report.outcome == "accepted", report.message
    # 00:00 0.5 + 0.8 (40 of the 50 minutes to 01:10); 01:00 0.2 + 0.5; two hours unchanged;
    # 04:00 1.5 + 0.5; the 6 kWh over seven hours without reads is left out; 12:00 0.5 + 0.5.
    assert got.keys() == {0, 60, 120, 180, 240, 720}
    assert np.allclose([got[k] for k in sorted(got)], [1.3, 0.7, 0.0, 0.0, 2.0, 1.0])
    assert report.dialect["register_grid_minutes"] == 60
    assert any("left out" in reason for reason in report.reasons)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    gaps=st.lists(st.integers(1, 90), min_size=3, max_size=60),
    rises=st.data(),
    grid=st.sampled_from([15, 30, 60]),
)
def test_intervals_are_the_interpolated_register(tmp_path_factory, gaps, rises, grid):
    minutes = np.concatenate([[0], np.cumsum(gaps)])
    if len(set(np.diff(minutes))) == 1 and 1440 % int(minutes[1]) == 0:
        gaps = gaps + [7]  # keep the reads irregular
        minutes = np.concatenate([[0], np.cumsum(gaps)])
    values = 500.0 + np.cumsum(
        [0.0] + rises.draw(st.lists(st.integers(0, 40).map(lambda x: x / 8), min_size=len(gaps), max_size=len(gaps)))
    )
    report, got = land(tmp_path_factory.mktemp("reg"), list(zip(minutes.tolist(), values.tolist())), interval_minutes=grid)
    assert report.outcome == "accepted", report.message
    # Every grid interval whose both ends lie within the reads, and only those.
    ends = np.arange(0, minutes[-1] + 1, grid)
    expected = {
        int(g): float(np.interp(g + grid, minutes, values) - np.interp(g, minutes, values)) for g in ends if g + grid <= minutes[-1]
    }
    assert got.keys() == expected.keys()
    for start, energy in expected.items():
        assert abs(got[start] - energy) < 1e-9, (start, got[start], energy)
