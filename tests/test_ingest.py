"""The ingest core: parse, normalise, validate with Great Expectations, land or quarantine."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import zoneinfo
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingest_lambda.options import IngestOptions, UsageError
from ingest_lambda.pipeline import ingest_bytes
from sampledata.generator import generate_seed_format

from .conftest import CORPUS

EXPECTED = json.loads((CORPUS / "expected.json").read_text())
NOW = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)


def lake_files(workspace) -> list[Path]:
    return sorted((workspace.lake / "readings").glob("*/*.parquet"))


def read_lake(workspace):
    files = lake_files(workspace)
    return pq.ParquetDataset(files).read() if files else None


def test_seed_file_lands_every_row_unchanged(workspace, lakehouse, tmp_path):
    sample = generate_seed_format(tmp_path / "sample.csv")
    report = ingest_bytes(sample.data_path.read_bytes(), "raw/sample.csv", lakehouse, now=NOW)

    assert report.outcome == "accepted"
    assert (report.rows_in, report.rows_landed, report.rows_quarantined) == (2880, 2880, 0)
    landed = read_lake(workspace).to_pylist()
    assert len(lake_files(workspace)) == 1
    with sample.data_path.open() as handle:
        expected = {(r["appliance"], dt.datetime.fromisoformat(r["timestamp"])): float(r["kwh"]) for r in csv.DictReader(handle)}
    got = {(r["meter_id"], r["reading_start"]): r["kwh"] for r in landed}
    assert got == expected
    assert {r["interval_minutes"] for r in landed} == {60}
    assert {r["timezone"] for r in landed} == {"UTC"}
    assert {r["source_key"] for r in landed} == {"raw/sample.csv"}
    assert {r["ingest_id"] for r in landed} == {report.ingest_id}


def test_same_bytes_three_times_change_nothing(workspace, lakehouse, tmp_path):
    sample = generate_seed_format(tmp_path / "sample.csv", days=3)
    data = sample.data_path.read_bytes()
    first = ingest_bytes(data, "raw/sample.csv", lakehouse, now=NOW)
    snapshot = {p: p.read_bytes() for p in workspace.home.rglob("*") if p.is_file()}
    for _ in range(2):
        again = ingest_bytes(data, "raw/sample.csv", lakehouse, now=NOW + dt.timedelta(days=1))
        assert again.outcome == "already_ingested"
        assert again.ingest_id == first.ingest_id
        assert again.rows_landed == first.rows_landed
    assert {p: p.read_bytes() for p in workspace.home.rglob("*") if p.is_file()} == snapshot


def test_validation_records_are_written_per_expectation(workspace, lakehouse):
    data = (CORPUS / "negative_and_absurd_energy.csv").read_bytes()
    report = ingest_bytes(data, "raw/x.csv", lakehouse, now=NOW)
    records = pq.ParquetDataset(sorted((workspace.dq / "validations").glob("*/*.parquet"))).read().to_pylist()
    by_name = {r["expectation"]: r for r in records}
    assert all(r["ingest_id"] == report.ingest_id for r in records)
    assert by_name["expect_column_values_to_be_between(kwh)"]["unexpected_count"] == 1
    assert by_name["expect_column_values_to_be_between(average_kw)"]["unexpected_count"] == 1
    assert by_name["expect_column_values_to_be_between(kwh)"]["success"] is False
    assert by_name["expect_column_values_to_be_in_set(key_conflict)"]["success"] is True
    run_record = json.loads((workspace.dq / "ingests" / f"{report.ingest_id}.json").read_text())
    assert run_record["rows_landed"] == 22 and run_record["rows_quarantined"] == 2


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_outcome(name, workspace, lakehouse):
    expected = EXPECTED[name]
    options = IngestOptions(**expected.get("options", {}))
    data = (CORPUS / name).read_bytes()
    report = ingest_bytes(data, f"raw/{name}", lakehouse, options, now=NOW)

    assert report.outcome == expected["outcome"], report.message
    # Nothing is lost: every row is landed or quarantined.
    assert report.rows_landed + report.rows_quarantined == report.rows_in
    landed = read_lake(workspace)
    if expected["outcome"] == "rejected":
        assert landed is None, "a rejected file must land nothing"
        if expected.get("code"):
            assert report.rejection_code == expected["code"]
        kept = workspace.quarantine / "files" / report.ingest_id
        assert (kept / name).read_bytes() == data
        reason = json.loads((kept / "reason.json").read_text())
        assert reason["reason"] == report.message and len(report.message) > 20
    else:
        assert report.rows_landed == expected["landed"]
        assert report.rows_quarantined == expected["quarantined"]
        assert landed.num_rows == expected["landed"]
        if "kwh_sum" in expected:
            assert math.isclose(sum(landed["kwh"].to_pylist()), expected["kwh_sum"], rel_tol=1e-12)
        if "missing" in expected:
            assert report.readings_missing == expected["missing"]
            assert landed["quality"].to_pylist().count("missing") == expected["missing"]
            assert all(v is None for v, q in zip(landed["kwh"].to_pylist(), landed["quality"].to_pylist()) if q == "missing")
    for fragment in expected.get("reasons", []):
        assert any(fragment in reason for reason in report.reasons), (fragment, report.reasons)
    if report.rows_quarantined and expected["outcome"] == "accepted":
        rows = pq.read_table(report.quarantine_object).to_pylist()
        assert len(rows) == report.rows_quarantined
        assert Counter(r["reason"] for r in rows) == Counter(report.reasons)
        assert all(r["raw"] for r in rows)


def test_dst_repeated_hour_is_resolved_in_order(workspace, lakehouse):
    data = (CORPUS / "dst_autumn_repeat_paris.csv").read_bytes()
    ingest_bytes(data, "raw/dst.csv", lakehouse, IngestOptions(timezone="Europe/Paris"), now=NOW)
    starts = sorted(r["reading_start"] for r in read_lake(workspace).to_pylist())
    # 25 distinct hours, from 22:00 UTC the evening before to 22:00 UTC the same day.
    assert starts[0] == dt.datetime(2024, 10, 26, 22, 0)
    assert starts[-1] == dt.datetime(2024, 10, 27, 22, 0)
    assert all(b - a == dt.timedelta(hours=1) for a, b in zip(starts, starts[1:]))


def test_bad_row_limit_rejects_file(workspace, lakehouse):
    data = (CORPUS / "text_in_one_number.csv").read_bytes()  # 1 bad row in 24
    report = ingest_bytes(data, "raw/x.csv", lakehouse, IngestOptions(max_bad_row_share=0.01), now=NOW)
    assert report.outcome == "rejected" and report.rejection_code == "too_many_bad_rows"
    assert "1 of 24 rows" in report.message
    assert read_lake(workspace) is None


@pytest.mark.parametrize(
    "options, fragment",
    [
        ({"timezone": "Mars/Olympus"}, "unknown timezone"),
        ({"unit": "BTU"}, "unknown unit"),
        ({"interval_minutes": 7}, "divisor of 1440"),
        ({"column_map": {"price": "x"}}, "unknown column role"),
        ({"max_bad_row_share": 1.5}, "share between 0 and 1"),
    ],
)
def test_impossible_options_are_usage_errors(options, fragment):
    with pytest.raises(UsageError, match=fragment):
        IngestOptions(**options)


def test_huge_line_is_rejected_not_crashed(workspace, lakehouse):
    data = b"timestamp,appliance,kwh\n2024-01-01 00:00:00,hvac," + b"9" * (6 << 20) + b"\n"
    report = ingest_bytes(data, "raw/huge.csv", lakehouse, now=NOW)
    assert report.outcome == "rejected"
    assert "longer than 1024 characters" in report.message
    assert read_lake(workspace) is None


def test_an_estimated_yes_no_column_marks_estimates_and_keeps_every_value(workspace, lakehouse):
    """A utility's "Estimated" column of Y/N flags: Y is an estimated read, N a measured
    one; no value is dropped as missing (N once read as "no data" landed a day of real
    readings as 0 kWh)."""
    data = (CORPUS / "estimated_yes_no_flag.csv").read_bytes()
    report = ingest_bytes(data, "raw/estimated.csv", lakehouse, IngestOptions(timezone="America/Chicago"), now=NOW)
    assert report.outcome == "accepted", report.message
    want = {}
    for row in csv.reader(data.decode().splitlines()[5:]):
        want[row[1][-5:]] = (float(row[2]), "estimated" if row[3] == "Y" else "measured")
    landed = read_lake(workspace).to_pylist()
    chicago = zoneinfo.ZoneInfo("America/Chicago")
    local = {r["reading_start"].replace(tzinfo=dt.UTC).astimezone(chicago).strftime("%H:%M"): (r["kwh"], r["quality"]) for r in landed}
    assert local == want
    assert Counter(q for _, q in want.values()) == {"measured": 22, "estimated": 2}


@pytest.mark.parametrize(
    ("header", "codes", "want"),
    [
        (
            "Estimated",
            ["Y", "N", "yes", "no", "1", "0", "", "E", "A"],
            ["estimated", "measured", "estimated", "measured", "estimated", "measured", "measured", "estimated", "measured"],
        ),
        ("Geschätzt", ["J", "N", "ja", "nein"], ["estimated", "measured", "estimated", "measured"]),
        ("Status", ["N", "Y"], [None, None]),
    ],
)
def test_quality_codes_read_by_their_column(header, codes, want):
    from ingest_lambda.codes import quality_reader

    read = quality_reader(header)
    assert [read(code)[0] for code in codes] == want


def test_quality_codes_given_by_the_user_come_first():
    from ingest_lambda.codes import quality_reader

    read = quality_reader("Status", {"W": "measured", "v": "estimated"})
    assert [read(code)[0] for code in ["W", "w", "V", "E", "L1", "wahrer Wert", "Ersatzwert", "nicht verwendbar"]] == [
        "measured",
        "measured",
        "estimated",
        "estimated",
        "measured",
        "measured",
        "estimated",
        "missing",
    ]
    assert quality_reader("Status")("W")[0] is None


def test_a_portals_own_status_code_lands_once_the_user_says_what_it_means(workspace, lakehouse):
    import pandas as pd

    data = (CORPUS / "lastgang_status_w.csv").read_bytes()
    options = IngestOptions(timezone="Europe/Berlin", quality_codes={"W": "measured"})
    report = ingest_bytes(data, "raw/lastgang.csv", lakehouse, options, now=NOW)
    assert report.outcome == "accepted", report.message
    frame = pd.read_csv(CORPUS / "lastgang_status_w.csv", sep=";", decimal=",")
    landed = read_lake(workspace).to_pandas()
    assert len(landed) == len(frame) == report.rows_landed
    assert Counter(landed["quality"]) == {"measured": (frame["Status"] == "W").sum(), "estimated": (frame["Status"] == "E").sum()}
    assert landed["kwh"].sum() == pytest.approx(frame["Wert (kWh)"].sum(), rel=1e-12)
    with pytest.raises(UsageError, match="--quality-code W=measured"):
        IngestOptions(quality_codes={"W": "good"})


ZONE_NOTICE = "the times carry no zone and none was given: read as UTC"


@pytest.mark.parametrize(
    ("stamps", "options", "header", "noticed"),
    [
        # zone-less times and no --timezone: landed as UTC, and the report says so, naming the option
        (["2024-03-01 00:00", "2024-03-01 01:00"], IngestOptions(), "timestamp", True),
        (["2024-03-01 00:00", "2024-03-01 01:00"], IngestOptions(timezone="Europe/Paris"), "timestamp", False),
        (["2024-03-01T00:00:00Z", "2024-03-01T01:00:00Z"], IngestOptions(), "timestamp", False),
        (["2024-03-01 00:00", "2024-03-01 01:00"], IngestOptions(), "timestamp_utc", False),
    ],
)
def test_zone_less_times_read_as_the_default_utc_say_so_and_name_timezone(stamps, options, header, noticed, workspace, lakehouse):
    data = f"meter_id,{header},kwh\n" + "".join(f"m1,{stamp},1.5\n" for stamp in stamps)
    report = ingest_bytes(data.encode(), "raw/zone.csv", lakehouse, options, now=NOW)
    assert report.outcome == "accepted", report.message
    notices = [e for e in report.dialect["evidence"] if e.startswith(ZONE_NOTICE)]
    assert len(notices) == noticed
    if noticed:
        assert "--timezone" in notices[0]
    first = min(r["reading_start"] for r in read_lake(workspace).to_pylist())
    local = dt.datetime(2024, 3, 1, tzinfo=zoneinfo.ZoneInfo(options.timezone))
    assert first == local.astimezone(dt.UTC).replace(tzinfo=None)


def test_an_emporia_export_lands_in_the_timezone_its_header_names(workspace, lakehouse):
    import pandas as pd

    name = "emporia_zone_in_header.csv"
    report = ingest_bytes((CORPUS / name).read_bytes(), f"raw/{name}", lakehouse, now=NOW)
    assert report.outcome == "accepted", report.message
    assert report.dialect["timezone"] == "America/New_York"
    frame = pd.read_csv(CORPUS / name)
    local = pd.to_datetime(frame["Time Bucket (America/New_York)"], format="%m/%d/%Y %H:%M:%S")
    utc = local.dt.tz_localize("America/New_York").dt.tz_convert("UTC").dt.tz_localize(None)
    expected = {(column.removesuffix(" (kWhs)"), start): value for column in frame.columns[1:] for start, value in zip(utc, frame[column])}
    landed = read_lake(workspace).to_pylist()
    assert {(r["meter_id"], r["reading_start"]): r["kwh"] for r in landed} == pytest.approx(expected)
    assert {r["timezone"] for r in landed} == {"America/New_York"}


def test_a_header_zone_reads_the_times_and_the_given_timezone_counts_the_days(workspace, lakehouse):
    import pandas as pd

    name = "emporia_zone_in_header.csv"
    # in Chicago's days the New York-midnight stamps no longer decide the convention
    options = IngestOptions(timezone="America/Chicago", interval_convention="beginning")
    report = ingest_bytes((CORPUS / name).read_bytes(), f"raw/{name}", lakehouse, options, now=NOW)
    assert report.outcome == "accepted", report.message
    frame = pd.read_csv(CORPUS / name)
    local = pd.to_datetime(frame["Time Bucket (America/New_York)"], format="%m/%d/%Y %H:%M:%S")
    first = local.dt.tz_localize("America/New_York").dt.tz_convert("UTC").dt.tz_localize(None).min()
    landed = read_lake(workspace).to_pylist()
    assert min(r["reading_start"] for r in landed) == first
    assert {r["timezone"] for r in landed} == {"America/Chicago"}


@pytest.mark.parametrize("header", ["Date/time UTC", "timestamp_utc", "Zeit (UTC)", "UTC Time"])
def test_times_under_a_utc_header_are_utc_whatever_the_meters_zone(header, workspace, lakehouse):
    # Shelly's export: UTC times, a Berlin home; 22:00 UTC is local midnight in May
    rows = "".join(f"{(dt.datetime(2024, 5, 5, 22) + dt.timedelta(hours=h)):%Y-%m-%d %H:%M},0.5\n" for h in range(26))
    data = f"{header},Energy (kWh)\n{rows}".encode()
    report = ingest_bytes(data, "raw/shelly.csv", lakehouse, IngestOptions(timezone="Europe/Berlin"), now=NOW)
    assert report.outcome == "accepted", report.message
    landed = read_lake(workspace).to_pylist()
    assert min(r["reading_start"] for r in landed) == dt.datetime(2024, 5, 5, 22)
    assert {r["timezone"] for r in landed} == {"Europe/Berlin"}


def test_the_repeated_autumn_hour_is_resolved_per_direction(workspace, lakehouse):
    # Smart Meter Texas: a consumption and a surplus-generation row per interval, naive
    # Central times across the autumn change; each direction's 01:xx repeats once
    zone = zoneinfo.ZoneInfo("America/Chicago")
    start = dt.datetime(2024, 11, 3, 0, 0, tzinfo=zone).astimezone(dt.UTC)
    lines, expected = [], Counter()
    for i in range(25 * 4):
        instant = start + dt.timedelta(minutes=15 * i)
        wall = instant.astimezone(zone)
        for flow, value in (("Surplus Generation", 0.05), ("Consumption", 0.2 + (i % 7) / 100)):
            lines.append(f"1008901,{wall:%m/%d/%Y},{wall:%H:%M},{value},{flow}")
            expected[flow] += value
    data = ("ESIID,USAGE_DATE,USAGE_START_TIME,USAGE_KWH,CONSUMPTION_SURPLUSGENERATION\n" + "\n".join(lines) + "\n").encode()
    options = IngestOptions(timezone="America/Chicago", date_order="mdy", column_map={"flow": "CONSUMPTION_SURPLUSGENERATION"})
    report = ingest_bytes(data, "raw/smt.csv", lakehouse, options, now=NOW)
    assert report.outcome == "accepted", report.message
    assert report.rows_quarantined == 0, report.reasons
    landed = read_lake(workspace).to_pylist()
    imported = [r for r in landed if r["flow"] == "import"]
    exported = [r for r in landed if r["flow"] == "export"]
    assert len(imported) == len(exported) == 100  # a 25-hour day of quarter hours each
    assert len({r["reading_start"] for r in imported}) == 100
    assert sum(r["kwh"] for r in imported) == pytest.approx(expected["Consumption"])
    assert sum(r["kwh"] for r in exported) == pytest.approx(expected["Surplus Generation"])


def test_unitless_readings_too_large_to_be_kwh_are_refused_naming_unit(workspace, lakehouse, tmp_path):
    import pandas as pd

    data = (CORPUS / "unitless_wh.csv").read_bytes()
    refused = ingest_bytes(data, "raw/wh.csv", lakehouse, now=NOW)
    assert refused.outcome == "rejected" and "--unit" in refused.message
    assert "flat-12" in refused.message and "Wh" in refused.message
    values = pd.read_csv(CORPUS / "unitless_wh.csv")["value"]
    # the median hour read as kWh, as the message quotes it (an independent count)
    assert f"average {values.median():,.0f} kW" in refused.message

    for unit, factor in (("Wh", 0.001), ("kWh", 1.0)):
        home = tmp_path / unit
        lake = type(lakehouse).local(str(home))
        report = ingest_bytes(data, "raw/wh.csv", lake, IngestOptions(unit=unit), now=NOW)
        assert report.outcome == "accepted", report.message
        files = sorted((home / "lake" / "readings").glob("*/*.parquet"))
        landed = pq.ParquetDataset(files).read()
        assert sum(landed["kwh"].to_pylist()) == pytest.approx(values.sum() * factor, rel=1e-12)


@pytest.mark.parametrize(
    "header, value, outcome",
    [
        ("value", "0.9", "accepted"),  # a home's hour in kWh, no unit given
        ("value", "45", "accepted"),  # a small business's hour: 45 kW on average
        ("value", "60", "rejected"),  # above 50 kW without a unit: Wh or kWh?
        ("Energy (kWh)", "600", "accepted"),  # the header says kWh: never refused for its size
        ("Energy (Wh)", "600", "accepted"),
    ],
)
def test_only_unstated_units_of_large_readings_are_refused(header, value, outcome, lakehouse):
    rows = "".join(f"m1,2024-02-05 {h:02d}:00,{value}\n" for h in range(24))
    report = ingest_bytes(f"meter_id,timestamp,{header}\n{rows}".encode(), "raw/x.csv", lakehouse, now=NOW)
    assert report.outcome == outcome, report.message


def test_inspect_tells_end_named_interval_columns(tmp_path):
    from ingest_lambda.inspect import inspect_file

    names = [f"{m // 60:02d}:{m % 60:02d}" for m in range(15, 1441, 15)]
    rows = "".join(f"{day}.10.2024;" + ";".join("0,1" for _ in names) + "\n" for day in ("01", "02"))
    path = tmp_path / "wide.csv"
    path.write_text("Datum;" + ";".join(names) + "\n" + rows)
    result = inspect_file(path, IngestOptions(timezone="Europe/Berlin"))
    assert result.dialect["interval_convention"].startswith("ending")
    starts = result.readings["start (local)"].to_pylist()
    assert starts[0] == "2024-10-01 00:00+0200"  # the column 00:15 is the interval from midnight


def test_spreadsheet_text_guards_are_not_part_of_the_meter_id(workspace, lakehouse):
    rows = "".join(f'"=""541448820012345678""",2024-02-05 {h:02d}:00,0.5\n' for h in range(12))
    rows += "".join(f"'1008901023801234567,2024-02-05 {h:02d}:00,0.5\n" for h in range(12))
    report = ingest_bytes(f"meter_id,timestamp,kwh\n{rows}".encode(), "raw/ids.csv", lakehouse, now=NOW)
    assert report.outcome == "accepted", report.message
    assert {r["meter_id"] for r in read_lake(workspace).to_pylist()} == {"541448820012345678", "1008901023801234567"}


def test_several_unnamed_numeric_columns_are_refused_saying_a_mapping_reads_one(lakehouse):
    rows = "".join(f"03/30/2024 {h:02d}:00:00,{1000 + h},{300 + h},{7}\n" for h in range(24))
    data = f"Time Bucket (Europe/London),Mains2,HeatPump2,Lights2\n{rows}".encode()
    report = ingest_bytes(data, "raw/circuits.csv", lakehouse, IngestOptions(unit="Wh"), now=NOW)
    assert report.outcome == "rejected" and "--column value=" in report.message
    assert "reads that one column only" in report.message and "'Mains (kWh)'" in report.message


def test_a_role_mapped_twice_is_a_usage_error():
    from ingest_lambda.options import parse_column_map

    with pytest.raises(UsageError, match="given twice"):
        parse_column_map(["value=Mains2", "value=Lights2"])
