"""Import and export, estimated and missing reads through the marts, checked against
numbers computed here from the input files."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy.warehouse import build, query, run_dbt
from ingest_lambda.options import IngestOptions
from ingest_lambda.pipeline import ingest_bytes
from ingest_lambda.storage import Lakehouse

from .conftest import energy_home
from .tables import PUBLIC_TABLES

NET_METER = Path(__file__).with_name("field") / "11_net_meter_signed"
REL = 1e-9

# The house meter: 40 days of hourly import from 2024-03-01 (UTC). Day 30 (2024-03-30)
# is re-sent as estimates flat-lined at 0 kWh, 2024-03-20 has 6 estimated hours, and
# 2024-03-25 05:00 is reported missing.
HOUSE_DAYS = 40
FLAT_DAY = dt.date(2024, 3, 30)
PART_ESTIMATED_DAY = dt.date(2024, 3, 20)
MISSING_AT = dt.datetime(2024, 3, 25, 5)


def house_kwh(day: int, hour: int) -> float:
    return round(1.0 + 0.5 * math.sin(hour / 24 * 2 * math.pi) + 0.1 * ((day * 7 + hour * 3) % 5), 3)


def net_meter_frame() -> pd.DataFrame:
    frame = pd.concat([pd.read_csv(path) for path in sorted(NET_METER.glob("*.csv"))])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    return frame


def register_rows() -> list[tuple[str, str, str, float]]:
    """Three days of quarter hours of meter 'ean-1', a row per register: the day
    registers count from 07:00 to 22:00, the night ones otherwise (the other is 0)."""
    out = []
    for q in range(3 * 96):
        start = dt.datetime(2024, 6, 3) + dt.timedelta(minutes=15 * q)
        day_tariff = 7 <= start.hour < 22
        used = round(0.05 + 0.01 * (q % 7), 3)
        fed = round(max(0.0, 0.2 * math.sin((start.hour - 6) / 12 * math.pi)), 3)
        for register, value, applies in (
            ("Offtake day", used, day_tariff),
            ("Offtake night", used, not day_tariff),
            ("Injection day", fed, day_tariff),
            ("Injection night", fed, not day_tariff),
        ):
            out.append((start.strftime("%d/%m/%Y %H:%M"), register, "kWh", value if applies else 0.0))
    return out


def register_file() -> str:
    return "EAN;Datum;Register;Eenheid;Volume\n" + "".join(
        f"ean-1;{ts};{register};{unit};{str(value).replace('.', ',')}\n" for ts, register, unit, value in register_rows()
    )


@pytest.fixture(scope="module")
def flow_workspace(tmp_path_factory):
    from energy.workspace import Workspace

    home = tmp_path_factory.mktemp("flow") / "home"
    with energy_home(home):
        workspace = Workspace.current().ensure()
        lakehouse = Lakehouse.local(str(home))
        history = "meter_id,timestamp,value\n" + "".join(
            f"house,{(dt.datetime(2024, 3, 1) + dt.timedelta(days=d, hours=h)).isoformat()}Z,{house_kwh(d, h)}\n"
            for d in range(HOUSE_DAYS)
            for h in range(24)
        )
        ingest_bytes(history.encode(), "raw/house.csv", lakehouse, now=dt.datetime(2024, 4, 11, tzinfo=dt.UTC))
        # A later upload of estimates (quality code E) and a gap (no value, code
        # "missing") supersedes the measured values.
        estimates = (
            "meter_id,timestamp,value,quality\n"
            + "".join(f"house,{dt.datetime.combine(FLAT_DAY, dt.time(h)).isoformat()}Z,0.0,E\n" for h in range(24))
            + "".join(
                f"house,{dt.datetime.combine(PART_ESTIMATED_DAY, dt.time(h)).isoformat()}Z,"
                f"{house_kwh((PART_ESTIMATED_DAY - dt.date(2024, 3, 1)).days, h)},E\n"
                for h in range(6)
            )
            + f"house,{MISSING_AT.isoformat()}Z,,missing\n"
        )
        report = ingest_bytes(estimates.encode(), "raw/estimates.csv", lakehouse, now=dt.datetime(2024, 4, 12, tzinfo=dt.UTC))
        assert report.rows_landed == 31 and report.readings_missing == 1, report.message
        # The net meter's signed files, as the ingest reads them with --flow net.
        for path in sorted(NET_METER.glob("*.csv")):
            report = ingest_bytes(
                path.read_bytes(), f"raw/{path.name}", lakehouse, IngestOptions(flow="net"), now=dt.datetime(2024, 6, 20, tzinfo=dt.UTC)
            )
            assert report.outcome == "accepted" and report.rows_quarantined == 0, report.message
        # A portal export with a row per register: offtake and injection, day and night.
        ingest_bytes(register_file().encode(), "raw/registers.csv", lakehouse, now=dt.datetime(2024, 6, 20, tzinfo=dt.UTC))
        result = build(workspace, full_refresh=True)
        assert result.success, result.failures
        yield workspace


def rows(workspace, sql: str) -> list[dict]:
    return query(workspace, sql).to_pylist()


def test_a_net_meter_lands_import_and_export_per_day(flow_workspace):
    frame = net_meter_frame()
    frame["day"] = frame["timestamp"].dt.date
    expected = frame.groupby("day")["kwh"].agg(
        imported=lambda v: math.fsum(v[v > 0]), exported=lambda v: -math.fsum(v[v < 0]), hours="count"
    )
    got = {
        r["reading_date"]: r
        for r in rows(
            flow_workspace,
            """
        select reading_date, total_kwh, export_kwh, net_kwh, reading_count, export_reading_count,
               completeness, is_complete
        from fct_daily_consumption where meter_id = 'solar-home'""",
        )
    }
    assert set(got) == set(expected.index) and len(got) == 14
    for day, want in expected.iterrows():
        row = got[day]
        assert math.isclose(row["total_kwh"], want["imported"], rel_tol=REL)
        assert math.isclose(row["export_kwh"], want["exported"], rel_tol=REL)
        assert math.isclose(row["net_kwh"], want["imported"] - want["exported"], rel_tol=REL, abs_tol=1e-12)
        # every hour lands in both directions, one of them zero: the day is whole in each
        assert row["reading_count"] == row["export_reading_count"] == want["hours"] == 24
        assert row["completeness"] == 1.0 and row["is_complete"]
    # the figures the field note gives for these files
    assert math.isclose(got[dt.date(2024, 6, 12)]["total_kwh"], 6.362, rel_tol=1e-9)
    assert math.isclose(got[dt.date(2024, 6, 12)]["export_kwh"], 7.567, rel_tol=1e-9)
    assert math.isclose(got[dt.date(2024, 1, 17)]["export_kwh"], 1.008, rel_tol=1e-9)


def test_export_is_never_summed_into_total_kwh(flow_workspace):
    frame = net_meter_frame()
    imported = math.fsum(frame.loc[frame["kwh"] > 0, "kwh"])
    exported = -math.fsum(frame.loc[frame["kwh"] < 0, "kwh"])
    summary = {r["meter_id"]: r for r in rows(flow_workspace, "select * from rpt_summary")}
    solar = summary["solar-home"]
    assert math.isclose(solar["total_kwh"], imported, rel_tol=REL)
    assert math.isclose(solar["export_kwh"], exported, rel_tol=REL)
    assert math.isclose(solar["net_kwh"], imported - exported, rel_tol=REL)
    # the peak is an import hour, never an export one
    peak = rows(flow_workspace, "select max(peak_kwh) as p from fct_daily_consumption where meter_id = 'solar-home'")[0]["p"]
    assert math.isclose(peak, frame.loc[frame["kwh"] > 0, "kwh"].max(), rel_tol=REL)
    assert frame["kwh"].abs().max() > peak  # an export hour is larger: it would have won
    everything = summary[None]
    others = {
        r["flow"]: r["s"]
        for r in rows(flow_workspace, "select flow, sum(kwh) as s from stg_lake__readings where meter_id <> 'solar-home' group by flow")
    }
    assert math.isclose(everything["total_kwh"], imported + others["import"], rel_tol=REL)
    assert math.isclose(everything["export_kwh"], exported + others["export"], rel_tol=REL)
    assert math.isclose(everything["net_kwh"], imported + others["import"] - exported - others["export"], rel_tol=REL)
    # the export has its own series: scored and forecast as flow = export, for the
    # meter that feeds in only
    flows = rows(flow_workspace, "select distinct meter_id, flow from fct_daily_anomalies order by 1, 2")
    assert flows == [
        {"meter_id": "ean-1", "flow": "export"},
        {"meter_id": "ean-1", "flow": "import"},
        {"meter_id": "house", "flow": "import"},
        {"meter_id": "solar-home", "flow": "export"},
        {"meter_id": "solar-home", "flow": "import"},
    ]
    export_days = {
        r["reading_date"]: r["total_kwh"]
        for r in rows(
            flow_workspace, "select reading_date, total_kwh from fct_daily_anomalies where flow = 'export' and meter_id = 'solar-home'"
        )
    }
    assert math.isclose(math.fsum(export_days.values()), exported, rel_tol=REL)
    forecast_flows = rows(flow_workspace, "select distinct meter_id, flow from fct_forecast order by 1, 2")
    assert {"meter_id": "house", "flow": "export"} not in forecast_flows
    assert {"meter_id": "house", "flow": "import"} in forecast_flows


def _baseline(values: list[float]) -> tuple[float, float, int]:
    """The default (iqr) baseline with numpy: median, IQR / 1.349, count."""
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return float(median), float(q3 - q1) / 1.349, len(values)


def test_estimated_reads_stay_out_of_anomalies_and_are_counted(flow_workspace):
    house = {
        day: math.fsum(house_kwh(d, h) for h in range(24))
        for d in range(HOUSE_DAYS)
        for day in [dt.date(2024, 3, 1) + dt.timedelta(days=d)]
    }
    house[FLAT_DAY] = 0.0
    house[MISSING_AT.date()] -= house_kwh((MISSING_AT.date() - dt.date(2024, 3, 1)).days, MISSING_AT.hour)
    daily = {r["reading_date"]: r for r in rows(flow_workspace, "select * from fct_daily_consumption where meter_id = 'house'")}
    for day, total in house.items():
        assert math.isclose(daily[day]["total_kwh"], total, rel_tol=REL, abs_tol=1e-12)
    assert daily[FLAT_DAY]["estimated_reading_count"] == 24 and daily[FLAT_DAY]["estimated_share"] == 1.0
    assert daily[PART_ESTIMATED_DAY]["estimated_reading_count"] == 6
    assert math.isclose(daily[PART_ESTIMATED_DAY]["estimated_share"], 6 / 24, rel_tol=REL)
    # the missing hour is a gap: not a reading, and the day is not complete
    gap_day = daily[MISSING_AT.date()]
    assert (gap_day["reading_count"], gap_day["estimated_reading_count"], gap_day["estimated_share"]) == (23, 0, 0.0)
    assert math.isclose(gap_day["completeness"], 23 / 24, rel_tol=REL) and not gap_day["is_complete"]

    # Daily anomalies: the flat-lined day of estimates (0 kWh) is not scored, and every
    # baseline is the trailing 28 complete, wholly measured days (an independent count).
    scored = {r["reading_date"]: r for r in rows(flow_workspace, "select * from fct_daily_anomalies where meter_id = 'house'")}
    flat = scored[FLAT_DAY]
    assert flat["is_estimated"] and flat["z_score"] is None and not flat["is_anomaly"]
    usable = {day: total for day, total in house.items() if day not in (FLAT_DAY, PART_ESTIMATED_DAY, MISSING_AT.date())}
    checked = 0
    for day in sorted(house):
        history = [total for d, total in usable.items() if day - dt.timedelta(days=28) <= d < day]
        row = scored[day]
        if day == MISSING_AT.date():  # incomplete: listed, unscored
            assert row["baseline_day_count"] == 0 and row["z_score"] is None
            continue
        assert row["baseline_day_count"] == len(history), day
        if len(history) >= 2:
            mean, stddev, _ = _baseline(history)
            assert math.isclose(row["baseline_center"], mean, rel_tol=REL)
            assert math.isclose(row["baseline_scale"], stddev, rel_tol=REL)
            checked += day > FLAT_DAY
    assert checked == HOUSE_DAYS - 30  # every day after the flat one, not widened by its zero
    # Reading anomalies: none of the estimates is flagged, and the next day's same-hour
    # baselines hold no estimate.
    flagged = rows(
        flow_workspace,
        "select count(*) as n from fct_reading_anomalies "
        "where meter_id = 'house' and quality <> 'measured' and (is_anomaly or z_score is not null)",
    )
    assert flagged == [{"n": 0}]
    next_day = rows(
        flow_workspace,
        "select baseline_reading_count from fct_reading_anomalies where meter_id = 'house' and reading_start = timestamp '2024-03-31 12:00:00'",
    )
    # 28 days back, less the flat day (the 20th's estimates are early hours, the gap at 05:00)
    assert next_day == [{"baseline_reading_count": 27}]

    # Control: with estimates counted as measurements, the flat-lined day is flagged low.
    with energy_home(flow_workspace.home):
        result = run_dbt(
            flow_workspace,
            [
                "build",
                "--select",
                "fct_daily_anomalies",
                "--exclude-resource-type",
                "unit_test",
                "--vars",
                json.dumps({"anomaly_include_estimated": True}),
            ],
        )
    assert result.success, result.failures
    counted = rows(
        flow_workspace,
        f"select is_anomaly, direction from fct_daily_anomalies where meter_id = 'house' and reading_date = date '{FLAT_DAY}'",
    )
    assert counted == [{"is_anomaly": True, "direction": "low"}]


def test_public_tables_with_a_meter_grain_carry_the_flow(flow_workspace):
    for table, key in PUBLIC_TABLES.items():
        columns = [
            r["column_name"]
            for r in rows(flow_workspace, f"select column_name from information_schema.columns where table_name = '{table}'")
        ]
        assert ("flow" in columns) == ("flow" in key), table


def test_the_report_charts_export_below_the_axis_and_marks_estimates(flow_workspace):
    from energy.report import write_report

    with energy_home(flow_workspace.home):
        html = write_report(flow_workspace).read_text()
    # the solar meter's chart: export below the axis, the net line; the house's: its
    # days of estimates marked
    charts = html.split('class="chart"')
    solar = next(chart for chart in charts if 'id="meter-solar-home"' in chart)
    house = next(chart for chart in charts if 'id="meter-house"' in chart)
    assert "export (fed in)" in solar and "net (import − export)" in solar
    assert "export (fed in)" not in house and "estimated reads" in house
    frame = net_meter_frame()
    june_12 = -math.fsum(frame.loc[(frame["timestamp"].dt.date == dt.date(2024, 6, 12)) & (frame["kwh"] < 0), "kwh"])
    bars = re.search(r'"name":"export \(fed in\)".*?"y":\[([^\]]*)\]', solar) or re.search(
        r'"y":\[([^\]]*)\][^{}]*"name":"export \(fed in\)"', solar
    )
    drawn = [float(v) for v in bars.group(1).split(",")]
    assert all(v <= 0 for v in drawn) and any(math.isclose(v, -june_12, rel_tol=REL) for v in drawn)


def test_registers_per_row_land_import_and_export_per_day(flow_workspace):
    frame = pd.DataFrame(register_rows(), columns=["ts", "register", "unit", "value"])
    frame["day"] = pd.to_datetime(frame["ts"], format="%d/%m/%Y %H:%M").dt.date
    frame["direction"] = frame["register"].str.split().str[0]
    expected = frame.pivot_table(index="day", columns="direction", values="value", aggfunc="sum")
    got = {
        r["reading_date"]: r
        for r in rows(
            flow_workspace,
            """
        select reading_date, total_kwh, export_kwh, reading_count, export_reading_count
        from fct_daily_consumption where meter_id = 'ean-1'""",
        )
    }
    assert set(got) == set(expected.index)
    for day, want in expected.iterrows():
        assert math.isclose(got[day]["total_kwh"], want["Offtake"], rel_tol=REL)
        assert math.isclose(got[day]["export_kwh"], want["Injection"], rel_tol=REL)
        # the day and night registers add up into one reading per quarter hour and direction
        assert got[day]["reading_count"] == got[day]["export_reading_count"] == 96
    # injection is never in total_kwh: the import total is the offtake alone
    all_import = rows(flow_workspace, "select sum(total_kwh) as t from fct_daily_consumption where meter_id = 'ean-1'")[0]["t"]
    assert math.isclose(all_import, frame.loc[frame["direction"] == "Offtake", "value"].sum(), rel_tol=REL)
