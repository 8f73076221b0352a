"""The dbt models on DuckDB, checked against numbers computed here from the CSV itself."""

from __future__ import annotations

import csv
import datetime as dt
import math
import shutil
import statistics
from collections import defaultdict

import duckdb
import numpy as np
import pandas as pd
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


def test_staged_readings_hold_every_reading(demo_workspace, sample_rows):
    got = rows(demo_workspace, "select meter_id, reading_start, kwh from stg_lake__readings")
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
    got = rows(demo_workspace, "select meter_id, reading_date, peak_kwh, peak_kw, peak_interval_start from fct_daily_consumption")
    for r in got:
        assert (r["peak_interval_start"], r["peak_kwh"]) == peaks[(r["meter_id"], r["reading_date"])]
        # hourly readings: the peak hour's kWh is its average kW
        assert math.isclose(r["peak_kw"], r["peak_kwh"], rel_tol=1e-12)


def _zscore(history, value, min_n=7):
    if len(history) < min_n:
        return None
    sd = statistics.stdev(history)
    return None if sd == 0 else (value - statistics.fmean(history)) / sd


IQR_K = 4  # var anomaly_iqr_k
IQR_PER_SIGMA = 1.349


def _iqr_score(history, value, min_n=7):
    """The default rule, from numpy's linear-interpolation percentiles: (median, z, flag)."""
    if not history:
        return None, None, False
    q1, median, q3 = np.percentile(history, [25, 50, 75])
    if len(history) < min_n or q3 == q1:
        return median, None, False
    z = (value - median) / ((q3 - q1) / IQR_PER_SIGMA)
    return median, z, abs(value - median) > IQR_K * (q3 - q1)


def _trailing_slot_histories(sample_rows):
    by_slot = defaultdict(list)
    for meter, ts, kwh in sample_rows:
        by_slot[(meter, ts.hour)].append((ts, kwh))
    for (meter, _), series in by_slot.items():
        for ts, kwh in series:
            yield meter, ts, kwh, [v for t, v in series if ts - dt.timedelta(days=28) <= t < ts - dt.timedelta(hours=1)]


def test_reading_flags_use_the_trailing_same_hour_median_and_iqr(demo_workspace, sample_rows):
    expected = {(meter, ts): (len(history), *_iqr_score(history, kwh)) for meter, ts, kwh, history in _trailing_slot_histories(sample_rows)}
    got = rows(
        demo_workspace,
        "select meter_id, reading_start, baseline_reading_count, baseline_center, z_score, is_anomaly from fct_reading_anomalies",
    )
    assert len(got) == 2880
    flagged = 0
    for r in got:
        n, median, z, flag = expected[(r["meter_id"], r["reading_start"])]
        assert r["baseline_reading_count"] == n
        assert (r["baseline_center"] is None) if median is None else math.isclose(r["baseline_center"], median, rel_tol=1e-9)
        assert (r["z_score"] is None) if z is None else math.isclose(r["z_score"], z, rel_tol=1e-9, abs_tol=1e-12)
        assert r["is_anomaly"] == flag
        flagged += flag
    assert flagged > 20  # the sample's spikes are found


def test_reading_zscores_use_only_the_trailing_same_hour_baseline(workspace, lakehouse, demo_workspace, sample_rows):
    """The zscore method (var anomaly_method) against statistics.stdev, on the demo's readings."""
    for area in ("lake", "dq"):
        shutil.copytree(demo_workspace.home / area, workspace.home / area, dirs_exist_ok=True)
    outcome = run_dbt(
        workspace,
        ["build", "--select", "+fct_reading_anomalies", "+fct_daily_anomalies", "--resource-type", "model", "--resource-type", "seed"]
        + ["--vars", '{"anomaly_method": "zscore"}'],
    )
    assert outcome.success, outcome.failures
    expected = {(meter, ts): _zscore(history, kwh) for meter, ts, kwh, history in _trailing_slot_histories(sample_rows)}
    got = rows(workspace, "select meter_id, reading_start, z_score, is_anomaly, baseline_reading_count from fct_reading_anomalies")
    assert len(got) == 2880
    for r in got:
        want = expected[(r["meter_id"], r["reading_start"])]
        if want is None:
            assert r["z_score"] is None and not r["is_anomaly"]
        else:
            assert math.isclose(r["z_score"], want, rel_tol=1e-9, abs_tol=1e-12)
            assert r["is_anomaly"] == (abs(want) > 2.0)
    daily = {}
    for meter, ts, kwh in sample_rows:
        daily[(meter, ts.date())] = daily.get((meter, ts.date()), 0.0) + kwh
    anomalies = {(r["meter_id"], r["reading_date"]): r for r in rows(workspace, "select * from fct_daily_anomalies")}
    for (meter, day), total in daily.items():
        history = [v for (m, d), v in daily.items() if m == meter and day - dt.timedelta(days=28) <= d < day]
        want = _zscore(history, total)
        got_z = anomalies[(meter, day)]["z_score"]
        assert (got_z is None) if want is None else math.isclose(got_z, want, rel_tol=1e-9)


def test_daily_flags_and_forecast(demo_workspace, daily_from_csv):
    by_meter = defaultdict(list)
    for (meter, day), total in sorted(daily_from_csv.items()):
        by_meter[meter].append((day, total))
    anomalies = {(r["meter_id"], r["reading_date"]): r for r in rows(demo_workspace, "select * from fct_daily_anomalies")}
    forecasts = rows(demo_workspace, "select * from fct_forecast where method = 'moving_average' order by meter_id, forecast_date")
    assert len(forecasts) == 4 * 7
    for meter, series in by_meter.items():
        for day, total in series:
            history = [v for d, v in series if day - dt.timedelta(days=28) <= d < day]
            _, want, flag = _iqr_score(history, total)
            got = anomalies[(meter, day)]
            assert (got["z_score"] is None) if want is None else math.isclose(got["z_score"], want, rel_tol=1e-9)
            assert got["is_anomaly"] == flag
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


def test_deseasonalised_smoothing_against_pandas(demo_workspace, daily_from_csv):
    """exponential_smoothing_deseasonalised from the last complete day, recomputed with
    pandas: each of the last 60 days divided by its weekday's factor (the weekday's mean
    over the last 8 weeks over their mean), weighted by 0.8^days_back, and the weighted
    mean times the target weekday's factor."""
    frame = pd.DataFrame([(m, d, v) for (m, d), v in daily_from_csv.items()], columns=["meter_id", "day", "kwh"])
    frame["day"] = pd.to_datetime(frame["day"])
    forecasts = rows(demo_workspace, "select * from fct_forecast where method = 'exponential_smoothing_deseasonalised'")
    assert len(forecasts) == 4 * 7
    for meter, series in frame.groupby("meter_id"):
        origin = series["day"].max()
        days_back = (origin - series["day"]).dt.days
        weekday = series["day"].dt.isocalendar().day
        profile = series[days_back < 56]
        profile_mean = profile["kwh"].mean()
        factor = (profile.groupby(profile["day"].dt.isocalendar().day)["kwh"].mean() / profile_mean).to_dict()
        window = days_back < 60
        weights = 0.8 ** days_back[window]
        deseasonalised = series.loc[window, "kwh"] / weekday[window].map(factor).astype(float)
        level = float((weights * deseasonalised).sum() / weights.sum())
        mine = [f for f in forecasts if f["meter_id"] == meter]
        for f in mine:
            target = pd.Timestamp(f["forecast_date"])
            assert (target - origin).days == f["horizon_days"]
            assert math.isclose(f["forecast_kwh"], level * factor[target.isocalendar().weekday], rel_tol=REL)


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
    got = rows(workspace, "select reading_start, kwh, source_key from stg_lake__readings where hour(reading_start) = 5")
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
    test_sql = next((compiled / "stg_lake__readings.yml").glob("primary_key_stg_lake__readings*.sql")).read_text()
    assert "hash(" in test_sql
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_workspace.warehouse, copy)
    with duckdb.connect() as connection:
        connection.execute(f"attach '{copy}' as warehouse; use warehouse")
        assert connection.execute(test_sql).fetchall() == []
        # one key twice, another three times (same build mark, so a scoped test sees them)
        connection.execute("""
            insert into stg_lake__readings
            select * from stg_lake__readings where reading_start = (select min(reading_start) from stg_lake__readings)
            union all
            select * from (select * from stg_lake__readings order by meter_id, reading_start desc limit 1)
            union all
            select * from (select * from stg_lake__readings order by meter_id, reading_start desc limit 1)
        """)
        plain = connection.execute("""
            select meter_id, flow, reading_start, count(*) from stg_lake__readings
            group by all having count(*) > 1 order by all
        """).fetchall()
        found = sorted(connection.execute(test_sql).fetchall())
        assert len(plain) >= 2 and {row[3] for row in plain} == {2, 3}
        assert found == plain
        # a reading without a meter, and one without a flow: each is reported once
        connection.execute("""
            insert into stg_lake__readings by name
            select * replace (null as meter_id) from (select * from stg_lake__readings order by reading_start limit 1)
            union all by name
            select * replace (null as flow) from (select * from stg_lake__readings order by reading_start desc limit 1)
        """)
        found = sorted(connection.execute(test_sql).fetchall(), key=str)
    nulls = [row for row in found if row[0] is None or row[1] is None]
    assert len(nulls) == 2 and all(row[3] == 1 for row in nulls)
    assert sorted(row for row in found if row not in nulls) == plain


def test_row_rules_report_each_broken_rule_by_name(demo_workspace, tmp_path):
    """A model's row rules are one data test: a row that breaks a rule is returned with
    the names of the rules it breaks, a null counts as broken, and rows that keep every
    rule are not returned."""
    compiled = demo_workspace.dbt_artifacts / "target" / "compiled" / "energy" / "models" / "intermediate" / "readings"
    test_sql = next((compiled / "int_readings_aggregated_to_days.yml").glob("row_rules_*.sql")).read_text()
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_workspace.warehouse, copy)
    with duckdb.connect() as connection:
        connection.execute(f"attach '{copy}' as warehouse; use warehouse")
        assert connection.execute(test_sql).fetchall() == []
        days = connection.execute("select meter_id, reading_date from int_readings_aggregated_to_days order by all limit 2").fetchall()
        connection.execute(
            "update int_readings_aggregated_to_days set total_kwh = -1, net_kwh = -1 - export_kwh where meter_id = ? and reading_date = ?",
            days[0],
        )
        connection.execute(
            "update int_readings_aggregated_to_days set completeness = null, expected_reading_count = 0 where meter_id = ? and reading_date = ?",
            days[1],
        )
        found = connection.execute(f"select meter_id, reading_date, broken_rules from ({test_sql}) order by all").fetchall()
    assert found == [
        (*days[0], "total_kwh_not_negative"),
        (*days[1], "expects_a_reading, completeness_is_a_share"),
    ]


def _expected_iqr_rows(table: list[dict]) -> dict:
    """The default rule recomputed in Python from a reading table's own columns: per
    meter, flow and local slot, the first reading of each of the 28 local days before the
    reading's (a repeated autumn hour's second reading enters no baseline)."""
    firsts = {}
    for r in sorted(table, key=lambda r: r["reading_start"]):
        firsts.setdefault((r["meter_id"], r["flow"], r["slot_minute"], r["reading_date"]), r["kwh"])
    expected = {}
    for r in table:
        day = r["reading_date"]
        history = [
            v
            for offset in range(1, 29)
            if (v := firsts.get((r["meter_id"], r["flow"], r["slot_minute"], day - dt.timedelta(days=offset)))) is not None
        ]
        expected[(r["meter_id"], r["flow"], r["reading_start"])] = (len(history), *_iqr_score(history, r["kwh"]))
    return expected


def test_iqr_flags_across_the_autumn_change_full_and_incremental(workspace, lakehouse, tmp_path):
    """Berlin quarter hours across 27 October 2024 (02:00-03:00 local comes twice): the
    full build (window quantiles) and the incremental one (joined quantiles) both give
    the Python computation's baselines, counts and flags, repeated hour included."""
    from ingest_lambda.pipeline import ingest_file
    from sampledata.generator import generate_long_format

    history = generate_long_format(
        tmp_path / "autumn.csv", meters=2, days=40, interval_minutes=15, seed=21, spike_share=0.01, start=dt.datetime(2024, 10, 1)
    )
    berlin = IngestOptions(timezone="Europe/Berlin")
    ingest_file(history.data_path, "raw/autumn.csv", lakehouse, berlin, now=dt.datetime(2024, 11, 12, tzinfo=dt.UTC))
    assert build(workspace).success
    columns = "meter_id, flow, reading_start, reading_date, slot_minute, kwh, baseline_reading_count, baseline_center, z_score, is_anomaly"

    def check() -> int:
        table = rows(workspace, f"select {columns} from fct_reading_anomalies")
        expected = _expected_iqr_rows(table)
        for r in table:
            n, median, z, flag = expected[(r["meter_id"], r["flow"], r["reading_start"])]
            assert r["baseline_reading_count"] == n, r
            assert (r["baseline_center"] is None) if median is None else math.isclose(r["baseline_center"], median, rel_tol=1e-9)
            assert (r["z_score"] is None) if z is None else math.isclose(r["z_score"], z, rel_tol=1e-9, abs_tol=1e-12)
            assert r["is_anomaly"] == flag, r
        return sum(r["is_anomaly"] for r in table)

    flagged = check()
    repeated = rows(
        workspace,
        "select count(*) as n from (select meter_id, reading_date, slot_minute from fct_reading_anomalies "
        "group by 1, 2, 3 having count(*) > 1)",
    )
    assert repeated == [{"n": 2 * 4}]  # the repeated hour's four quarter hours, per meter
    assert flagged > 0

    # the next day, a spike in it, and a corrected reading: the incremental build's
    # joined quantiles give the same answer as the computation
    next_day = "meter_id,timestamp,value\n" + "".join(
        f"meter-000{m},2024-11-10T{q // 4:02d}:{q % 4 * 15:02d}:00Z,{(9.0 if q == 40 else 0.3 + m / 10 + q / 400):.4f}\n"
        for m in (1, 2)
        for q in range(96)
    )
    ingest_bytes(next_day.encode(), "raw/next.csv", lakehouse, berlin, now=dt.datetime(2024, 11, 12, 1, tzinfo=dt.UTC))
    assert build(workspace).success
    assert check() > flagged


def test_the_public_daily_view_shows_every_column_and_row_of_the_daily_totals(demo_workspace):
    """fct_daily_consumption names its columns (a view of int_readings_aggregated_to_days):
    a column added to the computation must be added to the public view too."""
    view = query(demo_workspace, "select * from fct_daily_consumption order by meter_id, reading_date")
    days = query(demo_workspace, "select * from int_readings_aggregated_to_days order by meter_id, reading_date")
    assert view.column_names == days.column_names
    assert view.num_rows == days.num_rows > 0
    assert view.to_pylist() == days.to_pylist()
