"""The backtest's bands and accuracy, recomputed here from the backtest errors, and their
calibration day: fixed within a week, so incremental builds leave them alone until it
moves or history before it changes. Weeks are staggered by meter: each meter's start on
the weekday of its calibration phase (from the MD5 of its id), so each day's build
calibrates only the meters of that day's phase."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import statistics
from collections import defaultdict

import numpy

from energy.warehouse import build, query
from ingest_lambda.options import IngestOptions
from ingest_lambda.pipeline import ingest_bytes, ingest_file
from sampledata.generator import generate_long_format

from .tables import assert_same_rows

REL = 1e-9
LEVEL = 0.95
BAND_DAYS = 365
STDDEVS = 2.0


def rows(workspace, sql: str) -> list[dict]:
    return query(workspace, sql).to_pylist()


def calibration_phase(meter_id: str) -> int:
    """The first 28 bits of the id's MD5 digest, modulo the week: 0 is Monday."""
    return int(hashlib.md5(meter_id.encode()).hexdigest()[:7], 16) % 7


def calibration_day(meter_id: str, last_complete_day: dt.date) -> dt.date:
    """The start of the meter's week (it starts on its phase's weekday) holding the day
    after its last complete day."""
    next_day = last_complete_day + dt.timedelta(days=1)
    return next_day - dt.timedelta(days=(next_day.weekday() - calibration_phase(meter_id)) % 7)


def test_calibration_day_helper_matches_a_hand_count():
    # meter-0001 is phase 2 (Wednesday); meter-0003 phase 6 (Sunday)
    assert calibration_phase("meter-0001") == 2 and calibration_phase("meter-0003") == 6
    # Friday 2024-02-09's next day is Saturday: the Wednesday and the Sunday before it
    assert calibration_day("meter-0001", dt.date(2024, 2, 9)) == dt.date(2024, 2, 7)
    assert calibration_day("meter-0003", dt.date(2024, 2, 9)) == dt.date(2024, 2, 4)
    assert calibration_day("meter-0003", dt.date(2024, 2, 10)) == dt.date(2024, 2, 11)


def quantiles(values: list[float]) -> tuple[float, float]:
    low, high = numpy.quantile(values, [(1 - LEVEL) / 2, (1 + LEVEL) / 2], method="linear")
    return float(low), float(high)


def test_bands_and_accuracy_match_an_independent_computation(demo_workspace):
    series = defaultdict(dict)
    for r in rows(demo_workspace, "select meter_id, reading_date, total_kwh from fct_daily_consumption where is_complete"):
        series[r["meter_id"]][r["reading_date"]] = r["total_kwh"]
    # The calibration day: the start of the meter's week holding the day after its last complete day.
    calibrated_before = {meter: calibration_day(meter, max(days)) for meter, days in series.items()}
    got_calibration = {r["meter_id"]: r["calibrated_before"] for r in rows(demo_workspace, "select * from int_forecast_calibration")}
    assert got_calibration == calibrated_before

    errors = [e for e in rows(demo_workspace, "select * from int_forecast_errors") if e["forecast_date"] < calibrated_before[e["meter_id"]]]
    assert errors, "the demo's history should give backtest errors before the calibration day"
    # Periods: half the span of origins (capped at a year), numbered from the first origin.
    spans = {}
    for meter in series:
        origins = [e["origin_date"] for e in errors if e["meter_id"] == meter]
        spans[meter] = (min(origins), max(origins))
    for e in errors:
        first, last = spans[e["meter_id"]]
        length = min(BAND_DAYS, max(1, ((last - first).days + 2) // 2))
        e["period"] = (e["origin_date"] - first).days // length
        e["live"] = (last - e["origin_date"]).days < BAND_DAYS

    groups = defaultdict(list)
    for e in errors:
        groups[(e["meter_id"], e["method"], e["horizon_days"])].append(e)

    bands = {
        (r["meter_id"], r["method"], r["horizon_days"], r["error_set"], r["period"]): r
        for r in rows(demo_workspace, "select * from int_forecast_bands")
    }
    want_bands = {}
    for (meter, method, horizon), group in groups.items():
        want_bands[(meter, method, horizon, "live", -1)] = [e["error_kwh"] for e in group if e["live"]]
        for period in {e["period"] for e in group}:
            want_bands[(meter, method, horizon, "period", period)] = [e["error_kwh"] for e in group if e["period"] == period]
    assert set(bands) == set(want_bands)
    for key, values in want_bands.items():
        low, high = quantiles(values)
        assert bands[key]["errors"] == len(values), key
        assert math.isclose(bands[key]["error_low_kwh"], low, rel_tol=REL, abs_tol=1e-12), key
        assert math.isclose(bands[key]["error_high_kwh"], high, rel_tol=REL, abs_tol=1e-12), key
        assert bands[key]["calibrated_before"] == calibrated_before[key[0]]

    accuracy = {(r["meter_id"], r["method"], r["horizon_days"]): r for r in rows(demo_workspace, "select * from fct_forecast_accuracy")}
    assert set(accuracy) == set(groups)
    for (meter, method, horizon), group in groups.items():
        got = accuracy[(meter, method, horizon)]
        errs = [e["error_kwh"] for e in group]
        days = series[meter]
        naive = [
            abs(total - days[day - dt.timedelta(days=7)])
            for day, total in days.items()
            if day < calibrated_before[meter] and day - dt.timedelta(days=7) in days
        ]
        # Coverage: each period after the first, inside the band calibrated on the period before.
        scored, widths = [], []
        for e in group:
            if e["period"] == 0:
                continue
            if method == "moving_average":
                spread = STDDEVS * (e["ma_stddev"] or 0.0)
                lower, upper = e["forecast_kwh"] - spread, e["forecast_kwh"] + spread
            else:
                before = want_bands.get((meter, method, horizon, "period", e["period"] - 1))
                if not before:
                    continue
                low, high = quantiles(before)
                lower, upper = e["forecast_kwh"] + low, e["forecast_kwh"] + high
            scored.append(max(lower, 0.0) <= e["actual_kwh"] <= upper)
            widths.append(upper - max(lower, 0.0))
        assert got["forecast_count"] == len(group)
        assert math.isclose(got["mae"], statistics.fmean(abs(x) for x in errs), rel_tol=REL)
        assert math.isclose(got["bias"], statistics.fmean(errs), rel_tol=REL, abs_tol=1e-12)
        assert math.isclose(got["rmse"], math.sqrt(statistics.fmean(x * x for x in errs)), rel_tol=REL)
        assert math.isclose(got["mase"], statistics.fmean(abs(x) for x in errs) / statistics.fmean(naive), rel_tol=REL)
        assert got["band_coverage_count"] == len(scored)
        if scored:
            assert math.isclose(got["band_coverage"], statistics.fmean(scored), rel_tol=REL)
            assert math.isclose(got["band_width_kwh"], statistics.fmean(widths), rel_tol=REL)
        else:
            # a backtest of one period: no band from a period before to score
            assert got["band_coverage"] is None
            assert got["band_width_kwh"] is None
        # the names of the release before, for one release
        assert (got["n"], got["interval_coverage"], got["coverage_n"]) == (
            got["forecast_count"],
            got["band_coverage"],
            got["band_coverage_count"],
        )
        assert got["calibrated_before"] == calibrated_before[meter]


def day_of_readings(meters: list[str], day: dt.date, value: float = 1.0) -> bytes:
    return (
        "meter_id,timestamp,value\n"
        + "".join(f"{meter},{day.isoformat()}T{h:02d}:00:00Z,{value + h / 10}\n" for meter in meters for h in range(24))
    ).encode()


def calibration_marks(workspace, table: str) -> dict[str, tuple]:
    return {
        r["meter_id"]: (r["calibrated_before"], r["dbt_loaded_at"])
        for r in rows(
            workspace,
            f"select meter_id, max(calibrated_before) as calibrated_before, max(dbt_loaded_at) as dbt_loaded_at from {table} group by 1",
        )
    }


def meters_calibrated_again(workspace, table: str) -> int:
    """The count the last build logged for `table` (macros/calibration.sql)."""
    log = (workspace.dbt_artifacts / "logs" / "dbt.log").read_text()
    return int(re.findall(rf"{table}: (\d+) meter\(s\) to calibrate again", log)[-1])


def test_bands_and_accuracy_are_recomputed_only_when_their_calibration_day_moves(workspace, lakehouse, tmp_path):
    meters = ["meter-0001", "meter-0002", "meter-0003"]
    assert sorted({calibration_phase(m) for m in meters}) == [2, 3, 6]
    history = generate_long_format(tmp_path / "history.csv", meters=3, days=40, interval_minutes=60, seed=3)
    # 2024-01-01 to Friday 2024-02-09
    last_day = dt.date(2024, 2, 9)
    ingest_file(history.data_path, "raw/history.csv", lakehouse, now=dt.datetime(2024, 2, 10, tzinfo=dt.UTC))
    assert build(workspace).success
    compiled = workspace.dbt_artifacts / "target" / "compiled" / "energy" / "models"
    tables = ("int_forecast_bands", "fct_forecast_accuracy")
    marks = {table: calibration_marks(workspace, table) for table in tables}
    for table in tables:
        assert {m: c for m, (c, _) in marks[table].items()} == {m: calibration_day(m, last_day) for m in meters}

    # A week of daily uploads, Saturday to Friday: each build calibrates again only the
    # meters whose week starts the next day, and every meter once in the week. Sunday's
    # upload brings a new meter's first day too: it has no backtest error yet, so it gets
    # no rows, and it is looked at again on each build until the table next takes rows
    # (its day is newer than the table's build mark till then).
    calibrated_in_week = defaultdict(int)
    new_meter_pending = False
    for offset in range(1, 8):
        day = last_day + dt.timedelta(days=offset)
        uploaded = [*meters, "meter-new"] if day.weekday() == 6 else meters
        ingest_bytes(
            day_of_readings(uploaded, day),
            f"raw/{day}.csv",
            lakehouse,
            now=dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC),
        )
        assert build(workspace).success
        moved = {m for m in meters if calibration_day(m, day) != calibration_day(m, day - dt.timedelta(days=1))}
        new_meter_pending = new_meter_pending or "meter-new" in uploaded
        for m in moved:
            calibrated_in_week[m] += 1
        now = {table: calibration_marks(workspace, table) for table in tables}
        for table, folder in (("int_forecast_bands", "intermediate/forecasting"), ("fct_forecast_accuracy", "marts/forecasting")):
            assert meters_calibrated_again(workspace, table) == len(moved) + new_meter_pending, (day, table)
            sql = (compiled / folder / f"{table}.sql").read_text()
            if moved:
                # only the partitions of the moved meters' phases are opened
                looked_at = moved | ({"meter-new"} if new_meter_pending else set())
                phases = ", ".join(str(p) for p in sorted({calibration_phase(m) for m in looked_at}))
                assert f"calibration_phase in ({phases})" in sql, (day, table)
            elif not new_meter_pending:
                assert "where false" in sql, (day, table)
            assert "meter-new" not in now[table]
            for m in meters:
                assert now[table][m][0] == calibration_day(m, day), (day, table, m)
                if m in moved:
                    assert now[table][m][1] > marks[table][m][1], (day, table, m)
                else:
                    assert now[table][m] == marks[table][m], (day, table, m)
        marks = now
        new_meter_pending = new_meter_pending and not moved
    assert calibrated_in_week == {m: 1 for m in meters}
    week_end = marks

    # A correction of a day before the calibration day: only that meter is calibrated again
    # (not the new meter either, which has no new day).
    correction = "meter_id,timestamp,value\nmeter-0002,2024-02-01T06:00:00Z,40.0\n"
    ingest_bytes(
        correction.encode(), "raw/fix.csv", lakehouse, IngestOptions(interval_minutes=60), now=dt.datetime(2024, 2, 17, 1, tzinfo=dt.UTC)
    )
    assert build(workspace).success
    fixed = {table: calibration_marks(workspace, table) for table in tables}
    for table in tables:
        assert meters_calibrated_again(workspace, table) == 1
        assert fixed[table]["meter-0002"][1] > week_end[table]["meter-0002"][1]
        assert {m: fixed[table][m] for m in ("meter-0001", "meter-0003")} == {m: week_end[table][m] for m in ("meter-0001", "meter-0003")}

    keys = {
        "int_forecast_bands": "meter_id, method, horizon_days, error_set, period",
        "fct_forecast_accuracy": "meter_id, method, horizon_days",
        "fct_forecast": "meter_id, method, forecast_date",
    }
    incremental = {table: rows(workspace, f"select * from {table} order by {key}") for table, key in keys.items()}
    assert build(workspace, full_refresh=True).success
    for table, key in keys.items():
        assert_same_rows(table, incremental[table], rows(workspace, f"select * from {table} order by {key}"), rel_tol=1e-12)
