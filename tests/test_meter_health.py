"""fct_meter_health against pandas: a stuck meter, a meter at zero, a silent meter and a
healthy one, written into a generated file, are each found, and the run lengths and
hours behind the lake are pandas' own."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest

from energy.warehouse import build, query
from ingest_lambda.options import IngestOptions
from ingest_lambda.pipeline import ingest_file
from sampledata.generator import generate_long_format


def _tail_run(values: pd.Series) -> int:
    """How many of the last values in a row equal the last one."""
    reversed_values = values.iloc[::-1].to_numpy()
    run = 1
    while run < len(reversed_values) and reversed_values[run] == reversed_values[0]:
        run += 1
    return run


@pytest.fixture
def health(workspace, lakehouse, tmp_path):
    generated = generate_long_format(tmp_path / "meters.csv", meters=5, days=20, interval_minutes=60, seed=11, spike_share=0.0)
    frame = pd.read_csv(generated.data_path)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"].str.rstrip("Z"))
    newest = frame["timestamp"].max()
    by_meter = {meter: rows.index for meter, rows in frame.groupby("meter_id")}
    stuck = frame.index.isin(by_meter["meter-0001"]) & (frame["timestamp"] > newest - pd.Timedelta(hours=9))
    frame.loc[stuck, "value"] = 2.75  # the last 9 hours at one value
    zero = frame.index.isin(by_meter["meter-0002"]) & (frame["timestamp"] > newest - pd.Timedelta(hours=30))
    frame.loc[zero, "value"] = 0.0  # the last 30 hours at 0
    silent = frame.index.isin(by_meter["meter-0003"]) & (frame["timestamp"] > newest - pd.Timedelta(hours=40))
    frame = frame[~silent]  # stopped reporting 40 hours before the others
    short = frame.index.isin(by_meter["meter-0004"]) & (frame["timestamp"] > newest - pd.Timedelta(hours=5))
    frame.loc[short, "value"] = 1.5  # 5 hours unchanged: under the 6-hour threshold
    path = tmp_path / "edited.csv"
    frame.assign(timestamp=frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(path, index=False)
    report = ingest_file(path, "raw/edited.csv", lakehouse, IngestOptions(interval_convention="beginning"))
    assert report.rows_landed == len(frame)
    assert build(workspace).success
    rows = {r["meter_id"]: r for r in query(workspace, "select * from fct_meter_health where flow = 'import'").to_pylist()}
    return frame, rows


def test_each_kind_is_found_with_pandas_run_lengths(health):
    frame, rows = health
    newest = frame["timestamp"].max()
    assert set(rows) == set(frame["meter_id"])
    for meter, readings in frame.sort_values("timestamp").groupby("meter_id"):
        row = rows[meter]
        run = _tail_run(readings["value"])
        assert row["unchanged_reading_count"] == run, meter
        assert row["unchanged_hours"] == pytest.approx(run * 1.0)
        assert row["last_kwh"] == pytest.approx(readings["value"].iloc[-1])
        assert row["hours_behind_lake"] == pytest.approx((newest - readings["timestamp"].max()) / pd.Timedelta(hours=1))
    flagged = {meter: [kind for kind in ("is_silent", "is_stuck", "is_sustained_zero") if rows[meter][kind]] for meter in rows}
    assert flagged == {
        "meter-0001": ["is_stuck"],
        "meter-0002": ["is_sustained_zero"],
        "meter-0003": ["is_silent"],
        "meter-0004": [],
        "meter-0005": [],
    }
    assert rows["meter-0003"]["hours_behind_lake"] == pytest.approx(40.0)
    assert rows["meter-0001"]["unchanged_reading_count"] == 9
    assert rows["meter-0002"]["unchanged_reading_count"] == 30


def test_a_meter_silent_for_longer_than_the_window_is_silent(workspace, lakehouse, tmp_path):
    early = generate_long_format(tmp_path / "early.csv", meters=1, days=5, interval_minutes=60, seed=2)
    later = generate_long_format(tmp_path / "later.csv", meters=2, days=20, interval_minutes=60, seed=3)
    frame = pd.read_csv(later.data_path)
    frame = frame[frame["meter_id"] == "meter-0002"]
    frame.to_csv(tmp_path / "other.csv", index=False)
    ingest_file(early.data_path, "raw/early.csv", lakehouse, IngestOptions(interval_convention="beginning"))
    ingest_file(tmp_path / "other.csv", "raw/other.csv", lakehouse, IngestOptions(interval_convention="beginning"))
    assert build(workspace).success
    rows = {r["meter_id"]: r for r in query(workspace, "select * from fct_meter_health").to_pylist()}
    assert rows["meter-0001"]["is_silent"] and rows["meter-0001"]["hours_behind_lake"] is None
    assert rows["meter-0001"]["last_reading_date"] == dt.date(2024, 1, 5)
    assert not rows["meter-0002"]["is_silent"]


def test_the_report_lists_the_meters_that_need_a_visit(health, workspace):
    from energy.report import write_report

    html = write_report(workspace).read_text()
    section = html[html.index('id="meter-health"') : html.index('id="accuracy"')]
    rows = re.findall(r"<tr><td>(meter-\d+)</td><td>(\w+)</td>\s*<td>([^<]*)</td>", section)
    assert rows == [("meter-0001", "import", "stuck"), ("meter-0002", "import", "zero import"), ("meter-0003", "import", "silent")]


def test_it_reads_only_the_last_week_of_readings(health, workspace):
    """A literal bound, 7 days before the newest reading, which the engines prune on."""
    frame, _ = health
    compiled = next((workspace.dbt_artifacts / "target" / "run").rglob("fct_meter_health.sql")).read_text()
    since = (frame["timestamp"].max() - pd.Timedelta(days=7)).strftime("%Y-%m-%d %H:%M:%S")
    assert f"reading_start >= cast(timestamp '{since}'" in compiled
