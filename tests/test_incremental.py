"""Incremental builds give the same tables as a full refresh."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from energy.warehouse import build, query, run_dbt
from ingest_lambda.options import IngestOptions
from ingest_lambda.pipeline import ingest_bytes, ingest_file
from sampledata.generator import generate_long_format

from .tables import PUBLIC_TABLES, assert_same_rows, ordered_select


def snapshot(workspace) -> dict[str, list[dict]]:
    return {table: query(workspace, ordered_select(table)).to_pylist() for table in PUBLIC_TABLES}


def test_incremental_build_equals_full_refresh(workspace, lakehouse, tmp_path):
    history = generate_long_format(tmp_path / "history.csv", meters=3, days=40, interval_minutes=60, seed=3)
    ingest_file(history.data_path, "raw/history.csv", lakehouse, now=dt.datetime(2024, 2, 10, tzinfo=dt.UTC))
    assert build(workspace).success

    # A day later: the next day's readings, and a corrected value 10 days back.
    next_day = "meter_id,timestamp,value\n" + "".join(
        f"meter-000{m},2024-02-10T{h:02d}:00:00Z,{1.0 + m + h / 10}\n" for m in (1, 2, 3) for h in range(24)
    )
    correction = "meter_id,timestamp,value\nmeter-0002,2024-01-31T18:00:00Z,42.0\n"
    ingest_bytes(next_day.encode(), "raw/next.csv", lakehouse, now=dt.datetime(2024, 2, 11, tzinfo=dt.UTC))
    ingest_bytes(
        correction.encode(), "raw/fix.csv", lakehouse, IngestOptions(interval_minutes=60), now=dt.datetime(2024, 2, 11, 1, tzinfo=dt.UTC)
    )
    assert build(workspace).success
    incremental = snapshot(workspace)
    # The incremental build tested only the rows it wrote on the reading-grain tables.
    compiled = workspace.dbt_artifacts / "target" / "compiled" / "energy" / "models"
    scoped = next((compiled / "staging" / "stg_lake__readings.yml").glob("primary_key_stg_lake__readings*.sql")).read_text()
    assert "where dbt_loaded_at >= cast(" in scoped
    whole = next((compiled / "marts" / "anomalies" / "fct_daily_anomalies.yml").glob("primary_key*.sql")).read_text()
    assert "dbt_loaded_at >=" not in whole and "__rows_of_this_build__" not in whole
    # the readings-to-days reconciliation compares the days this build wrote, from a
    # reading_start literal (the full refresh below compares every reading)
    reconciled = (compiled.parent / "tests" / "singular" / "assert_daily_totals_equal_readings.sql").read_text()
    assert "reading_start >= cast(timestamp '2024-01-30" in reconciled and "reading_date >= date '2024-01-31'" in reconciled

    # A build with nothing new: every incremental model reads nothing, and says so the
    # one way the incremental window renders it (energy.incremental_window, nothing_new).
    assert build(workspace).success
    manifest = json.loads((workspace.dbt_artifacts / "target" / "manifest.json").read_text())
    incremental_models = [
        node for node in manifest["nodes"].values() if node["resource_type"] == "model" and node["config"]["materialized"] == "incremental"
    ]
    assert len(incremental_models) == 10
    for node in incremental_models:
        sql = (compiled.parent / node["original_file_path"]).read_text()
        assert "where false /* nothing new */" in sql or "and false /* nothing new */" in sql, node["name"]
        assert ">= null" not in sql and "> null" not in sql, node["name"]
    unchanged = snapshot(workspace)
    for table in PUBLIC_TABLES:
        assert_same_rows(table, unchanged[table], incremental[table], rel_tol=0)

    assert build(workspace, full_refresh=True).success
    refreshed = snapshot(workspace)
    # A full refresh wrote every row in this build, so the same scoping tests them all.
    marks = query(workspace, "select count(distinct dbt_loaded_at) as marks, count(*) as n from stg_lake__readings").to_pylist()
    assert marks == [{"marks": 1, "n": len(refreshed["stg_lake__readings"])}]

    for table in PUBLIC_TABLES:
        assert_same_rows(table, incremental[table], refreshed[table], rel_tol=1e-12)

    # The correction won, and its day and the later baselines moved with it.
    fixed = query(
        workspace,
        "select kwh, source_key from stg_lake__readings where meter_id = 'meter-0002' and reading_start = timestamp '2024-01-31 18:00:00'",
    ).to_pylist()
    assert fixed == [{"kwh": 42.0, "source_key": "raw/fix.csv"}]
    flagged = query(
        workspace,
        "select is_anomaly, direction from fct_reading_anomalies where meter_id = 'meter-0002' "
        "and reading_start = timestamp '2024-01-31 18:00:00'",
    ).to_pylist()
    assert flagged == [{"is_anomaly": True, "direction": "high"}]
    assert len(incremental["stg_lake__readings"]) == 3 * 41 * 24


def test_an_upload_that_started_early_and_landed_late_is_not_missed(workspace, lakehouse):
    """Ingest times are when an ingest started; a long ingest lands after a build that
    already saw later uploads. The next incremental build must still take it in."""
    day = "meter_id,timestamp,value\n" + "".join(f"{{m}},2024-03-01T{h:02d}:00:00Z,1.0\n" for h in range(24))
    ingest_bytes(day.format(m="fast").encode(), "raw/fast.csv", lakehouse, now=dt.datetime(2024, 3, 2, 12, tzinfo=dt.UTC))
    assert build(workspace).success
    ingest_bytes(day.format(m="slow").encode(), "raw/slow.csv", lakehouse, now=dt.datetime(2024, 3, 2, 11, tzinfo=dt.UTC))
    assert build(workspace).success
    meters = query(workspace, "select meter_id, count(*) as n from stg_lake__readings group by 1 order by 1").to_pylist()
    assert meters == [{"meter_id": "fast", "n": 24}, {"meter_id": "slow", "n": 24}]
    # The incremental run read the lake from two days before the newest ingest it had
    # seen (12:00 on 2 March), as a literal the engines prune partitions with.
    compiled = workspace.dbt_artifacts / "target" / "compiled" / "energy" / "models" / "staging" / "stg_lake__readings.sql"
    assert "ingest_date >= date '2024-02-29'" in compiled.read_text()
    daily = query(workspace, "select meter_id, total_kwh from fct_daily_consumption order by 1").to_pylist()
    assert daily == [{"meter_id": "fast", "total_kwh": 24.0}, {"meter_id": "slow", "total_kwh": 24.0}]
    scored = query(workspace, "select count(*) as n from fct_reading_anomalies where meter_id = 'slow'").to_pylist()
    assert scored == [{"n": 24}]


@pytest.mark.parametrize(
    "variables",
    [
        {"anomaly_window": "trailing", "anomaly_method": "iqr"},
        {"anomaly_window": "centered", "anomaly_method": "iqr"},
        {"anomaly_window": "trailing", "anomaly_method": "zscore"},
        {"anomaly_window": "centered", "anomaly_method": "zscore"},
        {"anomaly_window": "trailing", "anomaly_method": "robust"},
        {"anomaly_window": "centered", "anomaly_method": "robust"},
    ],
    ids=["trailing-iqr", "centered-iqr", "trailing-zscore", "centered-zscore", "trailing-robust", "centered-robust"],
)
def test_every_anomaly_baseline_scores_new_readings_as_a_full_refresh_does(workspace, lakehouse, tmp_path, variables):
    """Incremental runs score only the new readings, each joined to its history; every
    window and method must give the rows a full refresh computes with its window."""

    def run(*extra: str):
        outcome = run_dbt(
            workspace,
            [
                "build",
                "--select",
                "+fct_reading_anomalies",
                "build_settings",
                "--resource-type",
                "model",
                "--resource-type",
                "seed",
                "--vars",
                json.dumps(variables),
                *extra,
            ],
        )
        assert outcome.success, outcome.failures

    history = generate_long_format(tmp_path / "history.csv", meters=2, days=40, interval_minutes=60, seed=4)
    ingest_file(history.data_path, "raw/history.csv", lakehouse, now=dt.datetime(2024, 2, 10, tzinfo=dt.UTC))
    run()
    next_day = "meter_id,timestamp,value\n" + "".join(
        f"meter-000{m},2024-02-10T{h:02d}:00:00Z,{1.0 + m + h / 10}\n" for m in (1, 2) for h in range(24)
    )
    # a correction within the centered window's reach of the new day, and one beyond it
    corrections = "meter_id,timestamp,value\nmeter-0001,2024-02-03T18:00:00Z,9.0\nmeter-0002,2024-01-20T06:00:00Z,0.0\n"
    ingest_bytes(next_day.encode(), "raw/next.csv", lakehouse, now=dt.datetime(2024, 2, 11, tzinfo=dt.UTC))
    ingest_bytes(
        corrections.encode(), "raw/fix.csv", lakehouse, IngestOptions(interval_minutes=60), now=dt.datetime(2024, 2, 11, 1, tzinfo=dt.UTC)
    )
    run()
    compiled = (
        workspace.dbt_artifacts / "target" / "compiled" / "energy" / "models" / "intermediate" / "anomalies" / "int_readings_scored.sql"
    ).read_text()
    assert "new_readings" in compiled and "over baseline_frame" not in compiled  # the join, not the window
    incremental = query(workspace, ordered_select("fct_reading_anomalies")).to_pylist()

    run("--full-refresh")
    refreshed = query(workspace, ordered_select("fct_reading_anomalies")).to_pylist()
    assert_same_rows("fct_reading_anomalies", incremental, refreshed, rel_tol=1e-9)
    assert len(refreshed) == 2 * 41 * 24
    assert sum(row["z_score"] is not None for row in refreshed) > len(refreshed) // 2


def test_incremental_equals_full_refresh_with_export_and_estimates(workspace, lakehouse):
    """A net meter (--flow net) whose export starts in the middle of its history, and a
    later upload of estimates and a gap: incremental builds still equal a full refresh."""
    import math
    import random

    def net_value(day: int, hour: int) -> float:
        # irregular noise: exactly periodic days make zero-spread baselines, whose flags
        # flip on the last bit of a sum
        noise = random.Random(day * 24 + hour).uniform(0, 0.2)
        solar = max(0.0, math.sin((hour - 6) / 12 * math.pi)) * (1.5 if day >= 20 else 0.0)
        return round(0.6 + 0.2 * math.cos(hour / 24 * 2 * math.pi) + noise - solar, 3)

    def upload(days: range) -> bytes:
        return (
            "meter_id,timestamp,kwh\n"
            + "".join(
                f"pv,{dt.datetime(2024, 5, 1) + dt.timedelta(days=d, hours=h):%Y-%m-%d %H:%M},{net_value(d, h)}\n"
                for d in days
                for h in range(24)
            )
        ).encode()

    net = IngestOptions(flow="net")
    ingest_bytes(upload(range(35)), "raw/pv.csv", lakehouse, net, now=dt.datetime(2024, 6, 5, tzinfo=dt.UTC))
    assert build(workspace).success
    ingest_bytes(upload(range(35, 37)), "raw/pv-next.csv", lakehouse, net, now=dt.datetime(2024, 6, 7, tzinfo=dt.UTC))
    estimates = (
        "meter_id,timestamp,kwh,quality\n"
        + "".join(f"pv,2024-06-02 {h:02d}:00,0.4,E\n" for h in range(6))
        + "pv,2024-06-03 12:00,,missing\n"
    )
    ingest_bytes(
        estimates.encode(),
        "raw/pv-estimates.csv",
        lakehouse,
        IngestOptions(flow="net", interval_minutes=60, interval_convention="beginning"),
        now=dt.datetime(2024, 6, 7, 1, tzinfo=dt.UTC),
    )
    assert build(workspace).success
    incremental = snapshot(workspace)
    assert build(workspace, full_refresh=True).success
    refreshed = snapshot(workspace)
    for table in PUBLIC_TABLES:
        assert_same_rows(table, incremental[table], refreshed[table], rel_tol=1e-12)
    days = {r["reading_date"]: r for r in query(workspace, "select * from fct_daily_consumption where meter_id = 'pv'").to_pylist()}
    assert days[dt.date(2024, 5, 10)]["export_kwh"] == 0 and days[dt.date(2024, 5, 25)]["export_kwh"] > 0
    assert days[dt.date(2024, 6, 2)]["estimated_reading_count"] == 6


def test_a_warehouse_whose_daily_table_predates_the_view_upgrades(workspace, lakehouse, tmp_path):
    """Warehouses built before fct_daily_consumption became a view of
    int_readings_aggregated_to_days hold it as a table, and no intermediate: the next
    build computes the days, replaces the table by the view and gives the same rows."""
    import duckdb

    history = generate_long_format(tmp_path / "history.csv", meters=2, days=20, interval_minutes=60, seed=6)
    ingest_file(history.data_path, "raw/history.csv", lakehouse, now=dt.datetime(2024, 2, 1, tzinfo=dt.UTC))
    assert build(workspace).success
    before = query(workspace, ordered_select("fct_daily_consumption")).to_pylist()
    with duckdb.connect(str(workspace.warehouse)) as connection:
        connection.execute(
            "drop view fct_daily_consumption;"
            " create table fct_daily_consumption as select * from int_readings_aggregated_to_days;"
            " drop table int_readings_aggregated_to_days"
        )
    assert build(workspace).success
    kinds = query(workspace, "select table_type from information_schema.tables where table_name = 'fct_daily_consumption'").to_pylist()
    assert kinds == [{"table_type": "VIEW"}]
    assert_same_rows("fct_daily_consumption", before, query(workspace, ordered_select("fct_daily_consumption")).to_pylist(), rel_tol=1e-12)


def test_a_warehouse_of_the_release_before_the_renames_upgrades(workspace, lakehouse, tmp_path):
    """A warehouse built before the renames (README, "Renamed tables and columns") holds
    stg_readings and stg_dq_validations as tables and no stg_lake__readings or
    stg_dq__validations, fct_reading_anomalies as a table with only the old baseline
    names and no int_readings_scored, and the old names only in fct_daily_anomalies and
    the forecast tables. The next plain build upgrades it: every public table gets the
    same rows, each deprecated column equals its new one, and the old table names are
    views."""
    import duckdb

    history = generate_long_format(tmp_path / "history.csv", meters=2, days=40, interval_minutes=60, seed=7)
    ingest_file(history.data_path, "raw/history.csv", lakehouse, now=dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
    assert build(workspace).success
    before = {table: query(workspace, ordered_select(table)).to_pylist() for table in PUBLIC_TABLES}
    renamed = {
        "fct_daily_anomalies": {
            "baseline_mean": "baseline_center",
            "baseline_stddev": "baseline_scale",
            "baseline_n": "baseline_day_count",
        },
        "fct_forecast_accuracy": {"n": "forecast_count", "interval_coverage": "band_coverage", "coverage_n": "band_coverage_count"},
        "fct_forecast": {"interval_source": "band_source"},
    }
    with duckdb.connect(str(workspace.warehouse)) as connection:
        connection.execute(
            "create table old_reading_anomalies as"
            " select * exclude (baseline_center, baseline_scale, baseline_reading_count) from fct_reading_anomalies;"
            " drop view fct_reading_anomalies;"
            " alter table old_reading_anomalies rename to fct_reading_anomalies;"
            " drop table int_readings_scored;"
            " create table old_readings as select * from stg_lake__readings;"
            " drop view stg_readings;"
            " alter table old_readings rename to stg_readings;"
            " drop table stg_lake__readings;"
            " create table old_validations as select * from stg_dq__validations;"
            " drop view stg_dq_validations;"
            " alter table old_validations rename to stg_dq_validations;"
            " drop table stg_dq__validations"
        )
        for table, names in renamed.items():
            for new in names.values():
                connection.execute(f"alter table {table} drop column {new}")
    assert build(workspace).success
    for old_name in ("fct_reading_anomalies", "stg_readings", "stg_dq_validations"):
        kinds = query(workspace, f"select table_type from information_schema.tables where table_name = '{old_name}'").to_pylist()
        assert kinds == [{"table_type": "VIEW"}], old_name
    for table in PUBLIC_TABLES:
        after = query(workspace, ordered_select(table)).to_pylist()
        assert_same_rows(table, before[table], after, rel_tol=1e-12)
    renamed["fct_reading_anomalies"] = {
        "baseline_mean": "baseline_center",
        "baseline_stddev": "baseline_scale",
        "baseline_n": "baseline_reading_count",
    }
    for table, names in renamed.items():
        for row in query(workspace, f"select * from {table}").to_pylist():
            assert all(row[old] == row[new] for old, new in names.items()), (table, row)
