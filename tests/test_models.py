"""The dbt models on DuckDB, checked against numbers computed here from the CSV itself."""

from __future__ import annotations

import csv
import datetime as dt
import math
import shutil
import statistics
from collections import defaultdict

import duckdb
import pytest

from energy.warehouse import build, query, run_dbt
from ingest_lambda.options import IngestOptions
from ingest_lambda.pipeline import ingest_bytes

from .conftest import defined_unit_tests, energy_home

REL = 1e-9


@pytest.fixture(scope="module")
def sample_rows(demo_workspace):
    with (demo_workspace.raw / "sample.csv").open() as handle:
        return [(r["appliance"], dt.datetime.fromisoformat(r["timestamp"]), float(r["kwh"])) for r in csv.DictReader(handle)]


@pytest.fixture(scope="module")
def daily_from_csv(sample_rows):
    totals = defaultdict(list)
    for meter, ts, kwh in sample_rows:
        totals[(meter, ts.date())].append(kwh)
    return {key: math.fsum(values) for key, values in totals.items()}


def rows(workspace, sql):
    return query(workspace, sql).to_pylist()


def test_stg_readings_has_every_reading(demo_workspace, sample_rows):
    got = rows(demo_workspace, "select meter_id, reading_start, kwh from stg_readings")
    assert len(got) == 2880
    assert {(r["meter_id"], r["reading_start"], r["kwh"]) for r in got} == set(sample_rows)


def test_daily_totals_equal_sums_of_the_csv(demo_workspace, daily_from_csv):
    got = rows(
        demo_workspace,
        "select meter_id, reading_date, total_kwh, reading_count, expected_reading_count, "
        "completeness, is_complete from fct_daily_consumption",
    )
    assert len(got) == len(daily_from_csv) == 4 * 30
    for r in got:
        assert math.isclose(r["total_kwh"], daily_from_csv[(r["meter_id"], r["reading_date"])], rel_tol=REL)
        assert r["reading_count"] == r["expected_reading_count"] == 24
        assert r["completeness"] == 1.0 and r["is_complete"]


def test_peak_interval_is_the_largest_reading(demo_workspace, sample_rows):
    peaks = {}
    for meter, ts, kwh in sorted(sample_rows, key=lambda r: r[1]):
        key = (meter, ts.date())
        if key not in peaks or kwh > peaks[key][1]:
            peaks[key] = (ts, kwh)
    got = rows(demo_workspace, "select meter_id, reading_date, peak_kwh, peak_interval_start from fct_daily_consumption")
    for r in got:
        assert (r["peak_interval_start"], r["peak_kwh"]) == peaks[(r["meter_id"], r["reading_date"])]


def _zscore(history, value, min_n=7):
    if len(history) < min_n:
        return None
    sd = statistics.stdev(history)
    return None if sd == 0 else (value - statistics.fmean(history)) / sd


def test_reading_zscores_use_only_the_trailing_same_hour_baseline(demo_workspace, sample_rows):
    by_slot = defaultdict(list)
    for meter, ts, kwh in sample_rows:
        by_slot[(meter, ts.hour)].append((ts, kwh))
    expected = {}
    for (meter, _), series in by_slot.items():
        for ts, kwh in series:
            history = [v for t, v in series if ts - dt.timedelta(days=28) <= t < ts - dt.timedelta(hours=1)]
            expected[(meter, ts)] = _zscore(history, kwh)
    got = rows(demo_workspace, "select meter_id, reading_start, z_score, is_anomaly, baseline_n from fct_reading_anomalies")
    assert len(got) == 2880
    for r in got:
        want = expected[(r["meter_id"], r["reading_start"])]
        if want is None:
            assert r["z_score"] is None and not r["is_anomaly"]
        else:
            assert math.isclose(r["z_score"], want, rel_tol=1e-9, abs_tol=1e-12)
            assert r["is_anomaly"] == (abs(want) > 2.0)


def test_daily_zscores_and_forecast(demo_workspace, daily_from_csv):
    by_meter = defaultdict(list)
    for (meter, day), total in sorted(daily_from_csv.items()):
        by_meter[meter].append((day, total))
    anomalies = {(r["meter_id"], r["reading_date"]): r for r in rows(demo_workspace, "select * from fct_daily_anomalies")}
    forecasts = rows(demo_workspace, "select * from fct_forecast where method = 'moving_average' order by meter_id, forecast_date")
    assert len(forecasts) == 4 * 7
    for meter, series in by_meter.items():
        for day, total in series:
            history = [v for d, v in series if day - dt.timedelta(days=28) <= d < day]
            want = _zscore(history, total)
            got = anomalies[(meter, day)]["z_score"]
            assert (got is None) if want is None else math.isclose(got, want, rel_tol=1e-9)
        last30 = [v for _, v in series[-30:]]
        mean, sd = statistics.fmean(last30), statistics.stdev(last30)
        mine = [f for f in forecasts if f["meter_id"] == meter]
        assert [f["forecast_date"] for f in mine] == [series[-1][0] + dt.timedelta(days=h) for h in range(1, 8)]
        for f in mine:
            assert math.isclose(f["forecast_kwh"], mean, rel_tol=REL)
            assert math.isclose(f["lower_kwh"], max(mean - 2 * sd, 0), rel_tol=REL)
            assert math.isclose(f["upper_kwh"], mean + 2 * sd, rel_tol=REL)
    selected = rows(demo_workspace, "select meter_id, forecast_date, count(*) as n from fct_forecast where is_selected group by 1, 2")
    assert len(selected) == 4 * 7 and all(r["n"] == 1 for r in selected)


def test_summary_matches_the_marts(demo_workspace, daily_from_csv):
    summary = {r["meter_id"]: r for r in rows(demo_workspace, "select * from rpt_summary")}
    total = math.fsum(daily_from_csv.values())
    everything = summary[None]
    assert everything["scope"] == "all" and everything["days"] == 30
    assert math.isclose(everything["total_kwh"], total, rel_tol=REL)
    assert math.isclose(everything["daily_average_kwh"], total / 30, rel_tol=REL)
    flagged = rows(demo_workspace, "select count(*) as n from fct_reading_anomalies where is_anomaly")[0]["n"]
    assert everything["reading_anomalies"] == flagged > 0
    for meter in ("hvac", "lighting", "refrigerator", "water_heater"):
        meter_total = math.fsum(v for (m, _), v in daily_from_csv.items() if m == meter)
        assert math.isclose(summary[meter]["total_kwh"], meter_total, rel_tol=REL)
        f = rows(demo_workspace, f"select sum(forecast_kwh) s from fct_forecast where meter_id = '{meter}' and is_selected")[0]["s"]
        assert math.isclose(summary[meter]["forecast_7d_kwh"], f, rel_tol=REL)


def test_data_quality_history_is_queryable(demo_workspace):
    dq = rows(demo_workspace, "select * from fct_data_quality")
    assert dq and all(r["success"] for r in dq)
    assert {r["source_key"] for r in dq} == {"raw/sample.csv"}
    assert any(r["expectation"] == "expect_column_values_to_be_between(kwh)" for r in dq)


def test_corrected_reupload_supersedes_earlier_values(workspace, lakehouse):
    header = "timestamp,appliance,kwh\n"
    first = header + "".join(f"2024-01-01 {h:02d}:00:00,hvac,1.0\n" for h in range(24))
    corrected = header + "2024-01-01 05:00:00,hvac,7.5\n"
    ingest_bytes(first.encode(), "raw/day.csv", lakehouse, now=dt.datetime(2024, 1, 2, tzinfo=dt.UTC))
    ingest_bytes(
        corrected.encode(), "raw/fix.csv", lakehouse, IngestOptions(interval_minutes=60), now=dt.datetime(2024, 1, 3, tzinfo=dt.UTC)
    )
    result = build(workspace)
    assert result.success, result.failures
    got = rows(workspace, "select reading_start, kwh, source_key from stg_readings where hour(reading_start) = 5")
    assert got == [{"reading_start": dt.datetime(2024, 1, 1, 5), "kwh": 7.5, "source_key": "raw/fix.csv"}]
    daily = rows(workspace, "select total_kwh, reading_count from fct_daily_consumption")
    assert daily == [{"total_kwh": 23 * 1.0 + 7.5, "reading_count": 24}]


def test_every_dbt_unit_test_passes(demo_workspace):
    """Builds skip the unit tests (they check SQL, not data); here they all run, and
    every one defined in the project's YAML must pass."""
    defined = defined_unit_tests()
    assert defined >= 8
    with energy_home(demo_workspace.home):
        result = run_dbt(demo_workspace, ["test", "--select", "test_type:unit"])
    assert result.success, result.failures
    assert result.counts.get("pass") == defined  # (the other success is the on-run-start hook)


def test_the_primary_key_test_finds_every_repeated_and_every_null_key(demo_workspace, tmp_path):
    """The primary-key data test groups on a hash of the key first on DuckDB; it must
    still report exactly the repeated keys, with their counts, as a plain GROUP BY does,
    and every key with a null in it, repeated or not."""
    compiled = demo_workspace.dbt_artifacts / "target" / "compiled" / "energy" / "models" / "staging"
    test_sql = next((compiled / "stg_readings.yml").glob("primary_key_stg_readings*.sql")).read_text()
    assert "hash(" in test_sql
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_workspace.warehouse, copy)
    with duckdb.connect() as connection:
        connection.execute(f"attach '{copy}' as warehouse; use warehouse")
        assert connection.execute(test_sql).fetchall() == []
        # one key twice, another three times (same build mark, so a scoped test sees them)
        connection.execute("""
            insert into stg_readings
            select * from stg_readings where reading_start = (select min(reading_start) from stg_readings)
            union all
            select * from (select * from stg_readings order by meter_id, reading_start desc limit 1)
            union all
            select * from (select * from stg_readings order by meter_id, reading_start desc limit 1)
        """)
        plain = connection.execute("""
            select meter_id, flow, reading_start, count(*) from stg_readings
            group by all having count(*) > 1 order by all
        """).fetchall()
        found = sorted(connection.execute(test_sql).fetchall())
        assert len(plain) >= 2 and {row[3] for row in plain} == {2, 3}
        assert found == plain
        # a reading without a meter, and one without a flow: each is reported once
        connection.execute("""
            insert into stg_readings by name
            select * replace (null as meter_id) from (select * from stg_readings order by reading_start limit 1)
            union all by name
            select * replace (null as flow) from (select * from stg_readings order by reading_start desc limit 1)
        """)
        found = sorted(connection.execute(test_sql).fetchall(), key=str)
    nulls = [row for row in found if row[0] is None or row[1] is None]
    assert len(nulls) == 2 and all(row[3] == 1 for row in nulls)
    assert sorted(row for row in found if row not in nulls) == plain


def test_row_rules_report_each_broken_rule_by_name(demo_workspace, tmp_path):
    """A model's row rules are one data test: a row that breaks a rule is returned with
    the names of the rules it breaks, a null counts as broken, and rows that keep every
    rule are not returned."""
    compiled = demo_workspace.dbt_artifacts / "target" / "compiled" / "energy" / "models" / "marts"
    test_sql = next((compiled / "fct_daily_consumption.yml").glob("row_rules_*.sql")).read_text()
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_workspace.warehouse, copy)
    with duckdb.connect() as connection:
        connection.execute(f"attach '{copy}' as warehouse; use warehouse")
        assert connection.execute(test_sql).fetchall() == []
        days = connection.execute("select meter_id, reading_date from fct_daily_consumption order by all limit 2").fetchall()
        connection.execute(
            "update fct_daily_consumption set total_kwh = -1, net_kwh = -1 - export_kwh where meter_id = ? and reading_date = ?", days[0]
        )
        connection.execute(
            "update fct_daily_consumption set completeness = null, expected_reading_count = 0 where meter_id = ? and reading_date = ?",
            days[1],
        )
        found = connection.execute(f"select meter_id, reading_date, broken_rules from ({test_sql}) order by all").fetchall()
    assert found == [
        (*days[0], "total_kwh_not_negative"),
        (*days[1], "expects_a_reading, completeness_is_a_share"),
    ]
