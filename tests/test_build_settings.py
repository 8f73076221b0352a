"""A changed setting never leaves rows computed the old way beside rows computed the new
way: incremental builds over tables built with other settings are refused, and
`energy build` rebuilds them in full (dbt_project/macros/build_settings.sql)."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import numpy as np
import pytest

from energy.warehouse import WarehouseError, build, query, run_dbt
from ingest_lambda.pipeline import ingest_bytes, ingest_file
from sampledata.generator import generate_long_format

from .tables import assert_same_rows, ordered_select

ZSCORE = ["--vars", json.dumps({"anomaly_method": "zscore"})]
BUILD = ["build", "--exclude-resource-type", "unit_test"]


def _history(workspace, lakehouse, tmp_path):
    history = generate_long_format(tmp_path / "history.csv", meters=2, days=35, interval_minutes=60, seed=6, spike_share=0.03)
    ingest_file(history.data_path, "raw/history.csv", lakehouse, now=dt.datetime(2024, 2, 5, tzinfo=dt.UTC))


def _next_day(lakehouse) -> None:
    day = "meter_id,timestamp,value\n" + "".join(
        f"meter-000{m},2024-02-05T{h:02d}:00:00Z,{1.0 + m + h / 10}\n" for m in (1, 2) for h in range(24)
    )
    ingest_bytes(day.encode(), "raw/next.csv", lakehouse, now=dt.datetime(2024, 2, 6, tzinfo=dt.UTC))


def test_an_incremental_build_with_another_anomaly_method_is_refused_naming_the_setting(workspace, lakehouse, tmp_path):
    _history(workspace, lakehouse, tmp_path)
    assert run_dbt(workspace, BUILD + ZSCORE).success
    _next_day(lakehouse)
    with pytest.raises(WarehouseError) as refused:
        run_dbt(workspace, BUILD)
    message = str(refused.value)
    assert "anomaly_method zscore -> iqr" in message
    assert "--full-refresh" in message
    # nothing was added: the new day is in no table yet
    assert query(workspace, "select count(*) as n from fct_reading_anomalies where reading_date = date '2024-02-05'").to_pylist() == [
        {"n": 0}
    ]
    # the same settings build incrementally as before
    assert run_dbt(workspace, BUILD + ZSCORE).success


def test_energy_build_rebuilds_after_a_settings_change_and_equals_a_fresh_build(workspace, lakehouse, tmp_path, monkeypatch):
    """Built with zscore, then `energy build` at the default (iqr): every stored row is
    the iqr rule's, as in a warehouse built with iqr from the start, and the z-scores are
    numpy's (x - median) / (IQR / 1.349) of the same slot's trailing 28 days."""
    _history(workspace, lakehouse, tmp_path)
    assert run_dbt(workspace, BUILD + ZSCORE).success
    _next_day(lakehouse)
    rebuilt = build(workspace)
    assert rebuilt.success, rebuilt.failures
    assert "anomaly_method zscore -> iqr" in rebuilt.rebuilt_for_settings
    after_change = query(workspace, ordered_select("fct_reading_anomalies")).to_pylist()

    readings = query(workspace, "select meter_id, reading_start, kwh from fct_reading_anomalies").to_pandas()
    readings["slot"] = readings.reading_start.dt.hour
    readings["day"] = readings.reading_start.dt.normalize()
    checked = 0
    for row in after_change:
        if row["z_score"] is None:
            continue
        day = np.datetime64(row["reading_start"].replace(hour=0, minute=0))
        same_slot = readings[
            (readings.meter_id == row["meter_id"])
            & (readings.slot == row["reading_start"].hour)
            & (readings.day < day)
            & (readings.day >= day - np.timedelta64(28, "D"))
        ]
        q1, median, q3 = np.percentile(same_slot.kwh, [25, 50, 75])
        assert row["baseline_reading_count"] == len(same_slot)
        assert row["z_score"] == pytest.approx((row["kwh"] - median) / ((q3 - q1) / 1.349), rel=1e-9, abs=1e-9)
        checked += 1
    assert checked > 1000

    # a fresh warehouse built at the default from the same lake holds the same rows
    monkeypatch.setenv("ENERGY_HOME", str(workspace.home))
    fresh = workspace.warehouse.with_name("fresh.duckdb")
    workspace.warehouse.rename(fresh)
    assert build(workspace).success
    assert_same_rows("fct_reading_anomalies", after_change, query(workspace, ordered_select("fct_reading_anomalies")).to_pylist(), 1e-12)


def test_a_warehouse_from_an_earlier_release_is_rebuilt_by_energy_build(workspace, lakehouse, tmp_path):
    """A release that changes a rule bumps models_version; a warehouse that recorded no
    settings (built before they were recorded) is rebuilt, never added to."""
    _history(workspace, lakehouse, tmp_path)
    assert build(workspace).success
    assert build(workspace).rebuilt_for_settings is None
    with duckdb.connect(str(workspace.warehouse)) as connection:
        connection.execute("drop table build_settings")
    _next_day(lakehouse)
    rebuilt = build(workspace)
    assert rebuilt.success
    assert rebuilt.rebuilt_for_settings.startswith("by an earlier release")
    recorded = {r["setting"]: r["setting_value"] for r in query(workspace, "select * from build_settings").to_pylist()}
    assert recorded["anomaly_method"] == "iqr"
    assert recorded["anomaly_iqr_k"] == "4"
    assert "models_version" in recorded


def test_a_var_of_a_table_rebuilt_every_time_needs_no_full_refresh(workspace, lakehouse, tmp_path):
    """fct_daily_anomalies is rebuilt whole on every build: building it alone with
    another same-weekday setting is not refused."""
    _history(workspace, lakehouse, tmp_path)
    assert build(workspace).success
    daily = ["build", "--select", "fct_daily_anomalies", "--exclude-resource-type", "unit_test"]
    assert run_dbt(workspace, daily + ["--vars", json.dumps({"anomaly_daily_same_weekday": True})]).success
