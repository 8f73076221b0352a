"""Real export layouts (tests/field/, README there): each lands exactly its stated answer
with only the options a user knows (the meter's timezone, its unit, --register, --flow).

Daily totals are counted on the local day of the meter's timezone, from the lake rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow.parquet as pq
import pytest

from ingest_lambda.options import IngestOptions
from ingest_lambda.pipeline import ingest_bytes
from ingest_lambda.storage import Lakehouse

FIELD = Path(__file__).with_name("field")
CORPUS = Path(__file__).with_name("corpus")
NOW = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)


def land(tmp_path, folder: str, name: str, **options):
    return land_file(tmp_path, FIELD / folder / name, f"raw/{name}", **options)


def land_file(tmp_path, path: Path, key: str, **options):
    """Ingest one file into a fresh lake: (report, lake rows)."""
    home = tmp_path / "home"
    data = path.read_bytes()
    report = ingest_bytes(data, key, Lakehouse.local(str(home)), IngestOptions(**options), now=NOW)
    files = sorted((home / "lake" / "readings").glob("*/*.parquet"))
    rows = pq.ParquetDataset(files).read().to_pylist() if files else []
    assert report.rows_landed + report.rows_quarantined == report.rows_in
    return report, rows


def daily(rows, timezone: str, flow: str = "import") -> dict[str, tuple[int, float]]:
    """Local day -> (readings with a value, kWh) of one direction."""
    zone = ZoneInfo(timezone)
    days: dict[str, list[float]] = {}
    for r in rows:
        if r["flow"] != flow or r["kwh"] is None:
            continue
        day = r["reading_start"].replace(tzinfo=dt.UTC).astimezone(zone).date().isoformat()
        days.setdefault(day, []).append(r["kwh"])
    return {d: (len(v), round(sum(v), 6)) for d, v in sorted(days.items())}


def test_utility_download_with_preamble_and_split_date_time(tmp_path):
    report, rows = land(tmp_path, "01_utility_download_preamble", "usage_15min.csv", timezone="America/Los_Angeles")
    assert report.outcome == "accepted", report.message
    assert daily(rows, "America/Los_Angeles") == {
        "2024-01-15": (96, 23.92),
        "2024-01-16": (96, 23.92),
        "2024-01-17": (96, 23.92),
    }
    assert report.dialect["header_row"] == 6 and report.dialect["preamble_lines"] == 4
    # The preamble's name, address and account number are never repeated anywhere.
    recorded = json.dumps(report.to_dict())
    for private in ("JORDAN", "CEDAR", "1111222233"):
        assert private not in recorded
    assert {r["meter_id"] for r in rows} == {"usage_15min"}


def test_fractional_seconds_and_trailing_spaces(tmp_path):
    report, rows = land(tmp_path, "03_fractional_seconds", "two_households.csv")
    assert report.outcome == "accepted", report.message
    both = {}
    for day, (_count, kwh) in daily(rows, "UTC").items():
        both[day] = kwh
    assert both == {"2013-01-10": 21.667, "2013-01-11": 22.56, "2013-01-12": 22.56}
    per_meter_day1 = sorted(
        sum(1 for r in rows if r["meter_id"] == m and r["kwh"] is not None and r["reading_start"].date() == dt.date(2013, 1, 10))
        for m in ("MAC900001", "MAC900002")
    )
    assert per_meter_day1 == [45, 48]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("quarter_hours_by_day.csv", {"2024-09-02": (96, 7.715), "2024-09-03": (96, 8.675), "2024-09-04": (96, 9.635)}),
    ],
)
def test_wide_day_rows(tmp_path, name, expected):
    report, rows = land(tmp_path, "05_wide_day_rows", name, timezone="Europe/Rome")
    assert report.outcome == "accepted", report.message
    assert daily(rows, "Europe/Rome") == expected
    assert report.dialect["layout"] == "wide by day"
    starts = sorted(r["reading_start"] for r in rows)
    assert starts[0] == dt.datetime(2024, 9, 1, 22, 0)  # 00:00 in Rome (UTC+2)
    assert all(b - a == dt.timedelta(minutes=15) for a, b in zip(starts, starts[1:]))


def test_data_rows_with_a_trailing_delimiter(tmp_path):
    report, rows = land(tmp_path, "05_wide_day_rows", "trailing_delimiter_rows_only.csv")
    assert report.outcome == "accepted", report.message
    assert sorted(r["kwh"] for r in rows) == [0.5, 0.6, 0.7]


def test_hour_ending_numbers_one_to_twenty_four(tmp_path):
    report, rows = land(tmp_path, "07_hour_ending_1_to_24", "hourly_curve.csv", timezone="Europe/Madrid")
    assert report.outcome == "accepted", report.message
    assert daily(rows, "Europe/Madrid") == {"2024-02-12": (24, 5.72), "2024-02-13": (24, 4.8), "2024-02-14": (24, 5.28)}
    first = min(rows, key=lambda r: r["reading_start"])
    assert first["reading_start"] == dt.datetime(2024, 2, 11, 23, 0)  # hour 1 = 00:00-01:00 in Madrid
    assert first["kwh"] == 0.08
    assert {r["quality_code"]: r["quality"] for r in rows} == {"R": "measured", "E": "estimated"}


def test_interval_end_stamps_never_make_a_fourth_day(tmp_path):
    report, rows = land(tmp_path, "08_interval_end_stamps", "quarter_hours_end_stamped.csv", timezone="Europe/Vienna")
    assert report.outcome == "accepted", report.message
    assert daily(rows, "Europe/Vienna") == {"2025-01-10": (96, 5.7), "2025-01-11": (96, 5.76), "2025-01-12": (96, 6.72)}
    assert report.dialect["interval_convention"] == "ending"
    codes = {r["quality_code"]: r["quality"] for r in rows}
    assert codes == {"L1": "measured", "L2": "estimated"}


@pytest.mark.parametrize("name", ["net_meter_january.csv", "net_meter_june.csv"])
def test_net_meter_lands_import_and_export(tmp_path, name):
    path = FIELD / "11_net_meter_signed" / name
    frame = pd.read_csv(path)
    frame["day"] = pd.to_datetime(frame["timestamp"]).dt.date.astype(str)
    expected_import = frame[frame.kwh > 0].groupby("day").kwh.sum().round(6).to_dict()
    expected_export = (-frame[frame.kwh < 0].groupby("day").kwh.sum()).round(6).to_dict()

    report, rows = land(tmp_path, "11_net_meter_signed", name, flow="net")
    assert report.outcome == "accepted" and report.rows_quarantined == 0, report.message
    imports = {d: kwh for d, (n, kwh) in daily(rows, "UTC", "import").items()}
    exports = {d: kwh for d, (n, kwh) in daily(rows, "UTC", "export").items()}
    assert imports == pytest.approx(expected_import, abs=1e-9)
    assert exports == pytest.approx(expected_export, abs=1e-9)
    assert all(r["kwh"] >= 0 for r in rows)
    # Every hour has both directions: a complete series each, one of them zero.
    assert {n for n, _ in daily(rows, "UTC", "import").values()} == {24}
    assert {n for n, _ in daily(rows, "UTC", "export").values()} == {24}
    if name == "net_meter_june.csv":
        assert set(imports.values()) == {6.362} and set(exports.values()) == {7.567}
    else:
        assert set(imports.values()) == {9.774} and set(exports.values()) == {1.008}


def test_net_meter_without_the_option_is_quarantined_with_the_hint(tmp_path):
    report, rows = land(tmp_path, "11_net_meter_signed", "net_meter_january.csv", max_bad_row_share=1.0)
    assert report.rows_quarantined == 35
    assert any("--flow net" in reason for reason in report.reasons)
    assert all(r["kwh"] >= 0 for r in rows)


def test_newest_first_file_across_the_autumn_change(tmp_path):
    report, rows = land(tmp_path, "12_newest_first_dst", "fallback_newest_first.csv", timezone="America/New_York")
    assert report.outcome == "accepted", report.message
    assert {d: kwh for d, (n, kwh) in daily(rows, "America/New_York").items()} == {"2020-10-31": 30.24, "2020-11-01": 38.08}
    assert daily(rows, "America/New_York")["2020-11-01"][0] == 100
    with (FIELD / "12_newest_first_dst" / "expected_instants.csv").open() as handle:
        expected = {dt.datetime.fromisoformat(r["reading_start_utc"]): float(r["kwh"]) for r in csv.DictReader(handle)}
    assert {r["reading_start"]: r["kwh"] for r in rows} == expected


def test_bracketed_units_are_shown_literally(tmp_path):
    report, rows = land(tmp_path, "14_bracketed_units", "bracketed_unit_headers.csv", timezone="Europe/Berlin")
    assert report.outcome == "accepted", report.message
    assert report.dialect["layout"] == "wide by meter"
    assert report.dialect["value_columns"] == ["Netzbezug [kWh]", "Hausverbrauch [kWh]"]
    assert {r["meter_id"] for r in rows} == {"Netzbezug", "Hausverbrauch"}


@pytest.mark.parametrize("name", ["thousands_dot.csv", "thousands_comma_placeholders.csv", "blank_trailing_columns.csv"])
def test_locale_numbers(tmp_path, name):
    report, rows = land(tmp_path, "15_locale_numbers", name, timezone="Europe/Berlin")
    assert report.outcome == "accepted", report.message
    assert daily(rows, "Europe/Berlin") == {
        "2024-02-05": (94, 79.5663),
        "2024-02-06": (94, 79.6287),
        "2024-02-07": (96, 83.6444),
    }
    assert report.readings_missing == 4 and report.rows_quarantined == 0


def test_short_meters_land(tmp_path):
    for name, expected in (("three_hours.csv", [1.0, 2.0, 3.0]), ("one_full_day.csv", [1.0] * 24)):
        report, rows = land(tmp_path / name, "19_no_complete_day", name)
        assert report.outcome == "accepted", report.message
        assert sorted(r["kwh"] for r in rows) == expected


def test_dst_labels_decide_the_repeated_hour_in_a_shuffled_file(tmp_path):
    """CEST/CET labels, rows in random order: each reading i (kWh 1 + i/100) lands at the
    i-th hour after 2024-10-26 22:00 UTC (midnight in Berlin), 25 hours that day."""
    report, rows = land_file(tmp_path, CORPUS / "dst_labels_shuffled.csv", "raw/dst.csv", timezone="Europe/Berlin")
    assert report.outcome == "accepted", report.message
    start = dt.datetime(2024, 10, 26, 22)
    assert {r["reading_start"]: r["kwh"] for r in rows} == {start + dt.timedelta(hours=i): round(1 + i / 100, 2) for i in range(25)}


def test_hour_numbers_count_elapsed_hours_on_clock_change_days(tmp_path):
    """Hours 1..23 on the spring day and 1..25 on the autumn day in Madrid: hour k is
    the k-th hour after local midnight in elapsed time, so each day is unbroken."""
    report, rows = land_file(tmp_path, CORPUS / "hour_numbers_on_clock_change_days.csv", "raw/h.csv", timezone="Europe/Madrid")
    assert report.outcome == "accepted", report.message
    starts = sorted(r["reading_start"] for r in rows)
    spring, autumn = starts[:23], starts[23:]
    assert spring[0] == dt.datetime(2024, 3, 30, 23) and autumn[0] == dt.datetime(2024, 10, 26, 22)
    for day in (spring, autumn):
        assert all(b - a == dt.timedelta(hours=1) for a, b in zip(day, day[1:]))
    assert len(autumn) == 25


def test_columns_named_for_import_and_export_are_one_meter_both_ways(tmp_path):
    report, rows = land_file(tmp_path, CORPUS / "import_export_columns.csv", "raw/ie.csv", timezone="Europe/Berlin")
    assert report.outcome == "accepted", report.message
    assert {r["meter_id"] for r in rows} == {"ie"}  # no meter column: named after the file
    assert daily(rows, "Europe/Berlin", "import") == {"2024-06-15": (24, 2.4)}
    assert daily(rows, "Europe/Berlin", "export") == {"2024-06-15": (24, 10.0)}


def test_a_headerless_file_keeps_its_meters_apart(tmp_path):
    report, rows = land_file(tmp_path, CORPUS / "headerless_two_meters.csv", "raw/h.csv")
    assert report.outcome == "accepted", report.message
    assert {m: round(sum(r["kwh"] for r in rows if r["meter_id"] == m), 9) for m in ("HA", "HB")} == {"HA": 12.0, "HB": 6.0}


def test_a_dated_preamble_line_does_not_take_the_header(tmp_path):
    """A portal's preamble states its period with a date in the table's field count
    (`Zeitraum;01.03.2024 - 01.03.2024`): the header is still the line above the data, so
    its unit (Wh) is read and no row is quarantined. Interval-end stamps, decimal commas."""
    values = [100 + (i * 37) % 400 for i in range(96)]
    stamps = [dt.datetime(2024, 3, 1, 0, 15) + dt.timedelta(minutes=15 * i) for i in range(96)]
    body = "".join(f"{t:%d.%m.%Y %H:%M};{v}\n" for t, v in zip(stamps, values))
    text = "Messstellenbetreiber;Stadtwerke\nZählpunkt;DE000123\nZeitraum;01.03.2024 - 01.03.2024\n\nZeitstempel;Wirkenergie [Wh]\n" + body
    path = tmp_path / "portal.csv"
    path.write_text(text)
    report, rows = land_file(tmp_path, path, "raw/portal.csv", timezone="Europe/Berlin", meter_id="portal")
    assert report.outcome == "accepted", report.message
    assert report.rows_quarantined == 0 and report.rows_landed == 96
    assert report.dialect["header_row"] == 5 and report.dialect["preamble_lines"] == 3
    assert daily(rows, "Europe/Berlin") == {"2024-03-01": (96, round(sum(values) / 1000, 6))}
