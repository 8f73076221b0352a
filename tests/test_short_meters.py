"""Meters with no or one complete local day land and build, get no forecast, and the
summary says why; alone, mixed with meters that have a history, and on Trino as on
DuckDB. Also how the days of an exporter that leaves out zero readings count."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

from energy.warehouse import build, query
from ingest_lambda.options import IngestOptions
from ingest_lambda.pipeline import ingest_bytes, ingest_file
from sampledata.generator import generate_long_format

from .conftest import run_cli
from .tables import PUBLIC_TABLES, assert_same_rows, ordered_select
from .test_trino import RELATIVE_TOLERANCE, assert_engines_agree, trino_rows, trino_target  # noqa: F401

FIELD = Path(__file__).with_name("field") / "19_no_complete_day"

NO_DAY = "not enough history: no complete local day yet"
ONE_DAY = "not enough history: 1 complete local day, forecasts need at least 2"


def rows(workspace, sql):
    return query(workspace, sql).to_pylist()


def summary(workspace) -> dict:
    return {r["meter_id"]: r for r in rows(workspace, "select * from rpt_summary")}


def forecast_meters(workspace) -> set:
    return {r["meter_id"] for r in rows(workspace, "select distinct meter_id from fct_forecast")}


def test_meters_without_a_complete_day_land_build_and_say_why(workspace, tmp_path):
    for name in ("three_hours.csv", "one_full_day.csv"):
        result = run_cli("ingest", str(FIELD / name))
        assert result.exit_code == 0, result.output
    result = run_cli("build")
    assert result.exit_code == 0, result.output

    landed = rows(workspace, "select meter_id, count(*) as n, sum(kwh) as kwh from stg_lake__readings group by meter_id order by meter_id")
    assert [(r["meter_id"], r["n"]) for r in landed] == [("m1", 3), ("m2", 24)]
    assert math.isclose(landed[0]["kwh"], 1 + 2 + 3) and math.isclose(landed[1]["kwh"], 24 * 1.0)
    days = rows(workspace, "select meter_id, is_complete, reading_count from fct_daily_consumption order by meter_id")
    assert days == [
        {"meter_id": "m1", "is_complete": False, "reading_count": 3},
        {"meter_id": "m2", "is_complete": True, "reading_count": 24},
    ]

    # One complete day gives a band without spread: forecasts need two (forecast_min_days).
    assert forecast_meters(workspace) == set()
    by_meter = summary(workspace)
    assert by_meter["m1"]["forecast_7d_kwh"] is None and by_meter["m1"]["no_forecast_reason"] == NO_DAY
    assert by_meter["m2"]["forecast_7d_kwh"] is None and by_meter["m2"]["no_forecast_reason"] == ONE_DAY
    assert by_meter[None]["forecast_7d_kwh"] is None
    assert by_meter[None]["no_forecast_reason"] == "no meter has a forecast yet"
    assert math.isclose(by_meter[None]["total_kwh"], 30.0)

    result = run_cli("report")
    assert result.exit_code == 0, result.output
    html = (workspace.reports / "report.html").read_text()
    assert NO_DAY in html and ONE_DAY in html

    # A second day for m2 and a meter with a month of history: an incremental build;
    # the two with history are forecast, m1 still says why not.
    second = "meter_id,timestamp,value\n" + "".join(f"m2,2024-01-02 {h:02d}:00,2.0\n" for h in range(24))
    (tmp_path / "second_day.csv").write_text(second)
    history = generate_long_format(tmp_path / "history.csv", meters=1, days=30, interval_minutes=60, seed=3)
    for path in (tmp_path / "second_day.csv", history.data_path):
        assert run_cli("ingest", str(path)).exit_code == 0
    result = run_cli("build")
    assert result.exit_code == 0, result.output
    assert forecast_meters(workspace) == {"m2", "meter-0001"}
    m2 = rows(
        workspace,
        "select forecast_kwh, lower_kwh, upper_kwh, history_days from fct_forecast "
        "where meter_id = 'm2' and is_selected order by forecast_date",
    )
    assert len(m2) == 7 and all(r["history_days"] == 2 for r in m2)
    assert all(math.isclose(r["forecast_kwh"], 36.0) and r["lower_kwh"] < 36.0 < r["upper_kwh"] for r in m2)
    by_meter = summary(workspace)
    assert by_meter["m1"]["no_forecast_reason"] == NO_DAY and by_meter["m1"]["forecast_7d_kwh"] is None
    for meter in ("m2", "meter-0001"):
        assert by_meter[meter]["no_forecast_reason"] is None and by_meter[meter]["forecast_7d_kwh"] > 0
    assert by_meter[None]["no_forecast_reason"] == "1 of 3 meters have no forecast (see their rows): the forecast covers the others"
    assert math.isclose(by_meter[None]["forecast_7d_kwh"], by_meter["m2"]["forecast_7d_kwh"] + by_meter["meter-0001"]["forecast_7d_kwh"])
    assert run_cli("report").exit_code == 0

    # The first build wrote no forecast origin and no backtest error: the incremental
    # build must still fill them, as a full refresh does.
    assert rows(workspace, "select count(*) as n from fct_forecast_accuracy")[0]["n"] > 0
    incremental = {table: rows(workspace, ordered_select(table)) for table in PUBLIC_TABLES}
    assert build(workspace, full_refresh=True).success
    for table in PUBLIC_TABLES:
        assert_same_rows(table, incremental[table], rows(workspace, ordered_select(table)), RELATIVE_TOLERANCE)


def test_short_meters_build_the_same_on_trino(workspace, lakehouse, tmp_path, trino_target):  # noqa: F811
    now = dt.datetime(2024, 2, 1, tzinfo=dt.UTC)
    for name in ("three_hours.csv", "one_full_day.csv"):
        ingest_file(FIELD / name, f"raw/{name}", lakehouse, now=now)
    assert build(workspace).success
    trino_build = build(workspace, target="trino")
    assert trino_build.success, trino_build.failures
    for table in ("stg_lake__readings", "fct_daily_consumption", "fct_forecast", "rpt_summary"):
        assert_same_rows(table, rows(workspace, ordered_select(table)), trino_rows(trino_target, table), RELATIVE_TOLERANCE)
    on_trino = {r["meter_id"]: r["no_forecast_reason"] for r in trino_rows(trino_target, "rpt_summary")}
    assert on_trino == {"m1": NO_DAY, "m2": ONE_DAY, None: "no meter has a forecast yet"}

    # Mixed with a meter that has a backtest: every public table has rows, and agrees.
    history = generate_long_format(tmp_path / "history.csv", meters=1, days=30, interval_minutes=60, seed=3)
    ingest_file(history.data_path, "raw/history.csv", lakehouse, now=now + dt.timedelta(days=1))
    assert build(workspace).success
    assert build(workspace, target="trino").success
    counts = assert_engines_agree(workspace, trino_target)
    assert set(counts) == set(PUBLIC_TABLES)
    assert {r["meter_id"] for r in trino_rows(trino_target, "fct_forecast")} == {"meter-0001"}


def test_days_of_an_exporter_that_leaves_out_zeros_are_incomplete(workspace, lakehouse):
    """The portal writes an hour only when it used energy: nothing fills the hours it
    left out, so those days stay incomplete (their total is still the sum of what came)
    and give no forecast, until the zeros are uploaded explicitly."""
    header = "meter_id,timestamp,value\n"
    used = header + "".join(f"pv,2024-03-0{d} {h:02d}:00,0.5\n" for d in (1, 2, 3) for h in range(6, 24))
    ingest_bytes(used.encode(), "raw/portal.csv", lakehouse, now=dt.datetime(2024, 3, 4, tzinfo=dt.UTC))
    assert build(workspace).success
    days = rows(
        workspace,
        "select total_kwh, reading_count, expected_reading_count, completeness, is_complete "
        "from fct_daily_consumption order by reading_date",
    )
    assert len(days) == 3
    for day in days:
        assert math.isclose(day["total_kwh"], 18 * 0.5)
        assert (day["reading_count"], day["expected_reading_count"]) == (18, 24)
        assert math.isclose(day["completeness"], 0.75) and day["is_complete"] is False
    assert forecast_meters(workspace) == set()
    assert summary(workspace)["pv"]["no_forecast_reason"] == NO_DAY

    # The user's fix: upload the hours the portal left out, as explicit zeros.
    zeros = header + "".join(f"pv,2024-03-0{d} {h:02d}:00,0\n" for d in (1, 2, 3) for h in range(6))
    ingest_bytes(
        zeros.encode(), "raw/portal_zeros.csv", lakehouse, IngestOptions(interval_minutes=60), now=dt.datetime(2024, 3, 4, 1, tzinfo=dt.UTC)
    )
    assert build(workspace).success
    days = rows(workspace, "select total_kwh, reading_count, is_complete from fct_daily_consumption")
    assert all(math.isclose(d["total_kwh"], 9.0) and d["reading_count"] == 24 and d["is_complete"] for d in days)
    assert forecast_meters(workspace) == {"pv"}
    assert summary(workspace)["pv"]["no_forecast_reason"] is None
