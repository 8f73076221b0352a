"""ingest_lambda.timestamps: detecting and reading date, time and hour-number columns."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest_lambda import timestamps as ts
from ingest_lambda.timestamps import (
    TimeFormatAmbiguous,
    combine,
    detect_time_format,
    minutes_of_day,
    parse_times,
)

FIELD = Path(__file__).with_name("field")


def column(path: str, name: str, delimiter: str = ",", skip: int = 0) -> list[str]:
    with open(FIELD / path, newline="", encoding="utf-8") as handle:
        for _ in range(skip):
            next(handle)
        return [row[name] for row in csv.DictReader(handle, delimiter=delimiter)]


def naive_values(cells, fmt) -> list[dt.datetime]:
    parsed = parse_times(pa.array(cells, pa.string()), fmt)
    assert parsed.error.null_count == len(cells), parsed.error.drop_null().to_pylist()[:3]
    assert parsed.aware.null_count == len(cells)
    return parsed.naive.to_pylist()


# Every timestamp or date column of the field files, with the layout a reader would
# write down for it; the expected values come from Python's own strptime.
DATETIME_COLUMNS = [
    ("01_utility_download_preamble/usage_15min.csv", "DATE", ",", 5, "%Y-%m-%d", "date"),
    ("03_fractional_seconds/two_households.csv", "DateTime", ",", 0, "%Y-%m-%d %H:%M:%S.%f0", "datetime"),
    ("05_wide_day_rows/trailing_delimiter_rows_only.csv", "timestamp", ";", 0, "%Y-%m-%d %H:%M", "datetime"),
    ("07_hour_ending_1_to_24/hourly_curve.csv", "Fecha", ";", 0, "%d/%m/%Y", "date"),
    ("08_interval_end_stamps/quarter_hours_end_stamped.csv", "Messzeitpunkt", ";", 0, "%d.%m.%Y %H:%M", "datetime"),
    ("11_net_meter_signed/net_meter_june.csv", "timestamp", ",", 0, "%Y-%m-%d %H:%M", "datetime"),
    ("11_net_meter_signed/net_meter_january.csv", "timestamp", ",", 0, "%Y-%m-%d %H:%M", "datetime"),
    ("12_newest_first_dst/fallback_newest_first.csv", "timestamp", ",", 0, "%Y-%m-%d %H:%M", "datetime"),
    ("12_newest_first_dst/expected_instants.csv", "reading_start_utc", ",", 0, "%Y-%m-%d %H:%M:%S", "datetime"),
    ("12_newest_first_dst/expected_instants.csv", "local", ",", 0, "%Y-%m-%d %H:%M", "datetime"),
    ("14_bracketed_units/bracketed_unit_headers.csv", "Zeitstempel", ";", 0, "%d.%m.%Y %H:%M:%S", "datetime"),
    ("15_locale_numbers/thousands_dot.csv", "Zeitstempel", ";", 0, "%d.%m.%Y %H:%M", "datetime"),
    ("15_locale_numbers/blank_trailing_columns.csv", "Timestamp", ",", 0, "%Y-%m-%d %H:%M", "datetime"),
    ("15_locale_numbers/thousands_comma_placeholders.csv", "Timestamp", ",", 0, "%Y-%m-%d %H:%M", "datetime"),
    ("19_no_complete_day/one_full_day.csv", "timestamp", ",", 0, "%Y-%m-%d %H:%M", "datetime"),
    ("19_no_complete_day/three_hours.csv", "timestamp", ",", 0, "%Y-%m-%d %H:%M", "datetime"),
]


@pytest.mark.parametrize(("path", "name", "delimiter", "skip", "layout", "kind"), DATETIME_COLUMNS)
def test_field_timestamp_columns(path, name, delimiter, skip, layout, kind):
    cells = column(path, name, delimiter, skip)
    fmt = detect_time_format(cells, column=name)
    assert fmt is not None and fmt.kind == kind
    expected = [dt.datetime.strptime(c.strip(), layout) for c in cells]
    assert naive_values(cells, fmt) == expected


def test_fractional_seconds_keep_milliseconds_and_truncate_below():
    fmt = detect_time_format(["2013-01-10 00:00:00.0000000"])
    assert fmt.fraction and fmt.describe() == "yyyy-mm-dd HH:MM:SS.fff"
    cells = ["2013-01-10 00:00:00.1234567", "2013-01-10 00:30:00.5", "2013-01-10 01:00:00.0009999"]
    assert naive_values(cells, fmt) == [
        dt.datetime(2013, 1, 10, 0, 0, 0, 123000),
        dt.datetime(2013, 1, 10, 0, 30, 0, 500000),
        dt.datetime(2013, 1, 10, 1, 0, 0, 0),
    ]


def test_interval_end_stamps_run_to_the_next_midnight():
    cells = column("08_interval_end_stamps/quarter_hours_end_stamped.csv", "Messzeitpunkt", ";")
    fmt = detect_time_format(cells)
    assert fmt.describe() == "dd.mm.yyyy HH:MM (day first)" and fmt.basis is None  # 13.01 decides
    values = naive_values(cells, fmt)
    assert values[0] == dt.datetime(2025, 1, 10, 0, 15) and values[-1] == dt.datetime(2025, 1, 13, 0, 0)
    assert len(values) == 288


def test_day_first_dots_decided_by_an_unbroken_run_of_sub_daily_readings():
    # 08.04 .. 10.04.2024 with hourly readings: read month first they would be three
    # single days a month apart; only day first are they a series.
    cells = column("14_bracketed_units/bracketed_unit_headers.csv", "Zeitstempel", ";")
    fmt = detect_time_format(cells)
    assert fmt.day_first is True and fmt.basis
    assert "day first" in fmt.describe()
    values = naive_values(cells, fmt)
    assert values[0] == dt.datetime(2024, 4, 8) and values[-1] == dt.datetime(2024, 4, 10, 23)


def test_wide_day_rows_dates_need_the_date_order():
    cells = column("05_wide_day_rows/quarter_hours_by_day.csv", "Giorno", ";")
    with pytest.raises(TimeFormatAmbiguous) as refused:
        detect_time_format(cells, column="Giorno")
    assert refused.value.option == "--date-order"
    assert "--date-order dmy" in refused.value.message and "'Giorno'" in refused.value.message
    fmt = detect_time_format(cells, date_order="dmy")
    assert fmt.kind == "date" and fmt.day_first is True
    assert naive_values(cells, fmt) == [dt.datetime(2024, 9, d) for d in (2, 3, 4)]


def test_utility_download_date_and_start_time_columns_combine():
    path = "01_utility_download_preamble/usage_15min.csv"
    dates, starts, ends = (column(path, name, ",", 5) for name in ("DATE", "START TIME", "END TIME"))
    date_fmt = detect_time_format(dates, kind_hint="date")
    time_fmt = detect_time_format(starts)
    assert time_fmt.kind == "time" and time_fmt.describe() == "HH:MM"
    minutes, fold, error = minutes_of_day(pa.array(starts), time_fmt)
    assert error.null_count == len(starts) and fold.null_count == len(starts)
    stamps = combine(parse_times(pa.array(dates), date_fmt).naive, minutes).to_pylist()
    start = dt.datetime(2024, 1, 15)
    assert stamps == [start + dt.timedelta(minutes=15 * i) for i in range(288)]
    end_minutes, _, end_error = minutes_of_day(pa.array(ends), detect_time_format(ends))
    assert end_error.null_count == len(ends)
    assert end_minutes.to_pylist()[:2] == [14, 29] and end_minutes.to_pylist()[-1] == 23 * 60 + 59


def test_hour_ending_numbers_combine_with_day_first_dates():
    path = "07_hour_ending_1_to_24/hourly_curve.csv"
    dates, hours = column(path, "Fecha", ";"), column(path, "Hora", ";")
    date_fmt = detect_time_format(dates)
    assert date_fmt.describe() == "dd/mm/yyyy (day first)"
    hour_fmt = detect_time_format(hours)
    assert hour_fmt.kind == "hour_number" and hour_fmt.first_hour == 1 and hour_fmt.pattern is None
    assert detect_time_format(hours, kind_hint=("datetime", "date", "time")) is None
    minutes, _, error = minutes_of_day(pa.array(hours), hour_fmt)
    assert error.null_count == len(hours)
    stamps = combine(parse_times(pa.array(dates), date_fmt).naive, minutes).to_pylist()
    assert stamps == [dt.datetime(2024, 2, 12) + dt.timedelta(hours=h) for h in range(72)]


def test_columns_that_are_not_times():
    path = "08_interval_end_stamps/quarter_hours_end_stamped.csv"
    for name in ("Verbrauch (kWh)", "Qualität", "Restnetzbezug (kWh)"):
        assert detect_time_format(column(path, name, ";")) is None
    assert detect_time_format(column("07_hour_ending_1_to_24/hourly_curve.csv", "CUPS", ";")) is None
    assert detect_time_format(["600", "1.032", "700"]) is None
    assert detect_time_format(["", None, "  "]) is None
    assert detect_time_format(["3", "3", "3"]) is None  # one repeated number is no hour column


@pytest.mark.parametrize(
    ("cells", "order"),
    [
        (["01/02/2024", "03/04/2024"], None),
        (["01.02.2024", "03.04.2024"], None),
        (["01-02-24", "03-04-24"], None),
    ],
)
def test_dates_fitting_both_orders_are_refused(cells, order):
    with pytest.raises(TimeFormatAmbiguous) as refused:
        detect_time_format(cells, date_order=order)
    assert refused.value.option == "--date-order"
    assert "dmy" in refused.value.message and "mdy" in refused.value.message


def test_date_order_from_the_values_and_from_the_option():
    assert detect_time_format(["12/02/2024", "13/02/2024"]).day_first is True
    month_first = detect_time_format(["02/12/2024 1:00 PM", "02/13/2024 1:00 PM"])
    assert month_first.day_first is False and month_first.describe() == "mm/dd/yyyy hh:MM AM/PM (month first)"
    assert naive_values(["02/12/2024 12:00 AM", "02/13/2024 12:30 PM"], month_first) == [
        dt.datetime(2024, 2, 12, 0, 0),
        dt.datetime(2024, 2, 13, 12, 30),
    ]
    forced = detect_time_format(["01/02/2024", "03/04/2024"], date_order="mdy")
    assert naive_values(["01/02/2024"], forced) == [dt.datetime(2024, 1, 2)]
    year_first = detect_time_format(["2024/02/03", "2024/02/04"], date_order="dmy")  # yyyy first decides
    assert year_first.order == "ymd" and naive_values(["2024/02/03"], year_first) == [dt.datetime(2024, 2, 3)]
    two_digit = detect_time_format(["13.02.24 00:15", "14.02.24 00:15"])
    assert two_digit.two_digit_year and naive_values(["13.02.24 00:15"], two_digit) == [dt.datetime(2024, 2, 13, 0, 15)]
    with pytest.raises(ValueError):
        detect_time_format(["2024-01-01"], date_order="dym")


def test_user_timestamp_format_wins():
    fmt = detect_time_format(["2024|01|31 13h00"], timestamp_format="%Y|%m|%d %Hh%M")
    assert fmt.user and fmt.kind == "datetime"
    parsed = parse_times(pa.array(["2024|01|31 13h00", "2024|04|31 13h00", "x"]), fmt)
    assert parsed.naive.to_pylist() == [dt.datetime(2024, 1, 31, 13), None, None]
    assert parsed.error.to_pylist()[1] == "timestamp '2024|04|31 13h00' cannot be read (expected the format '%Y|%m|%d %Hh%M')"


def test_offsets_are_used_as_given():
    fmt = detect_time_format(["2024-01-01T00:00:00+01:00"])
    assert fmt.has_offset
    cells = [
        "2024-01-01T00:00:00+01:00",
        "2024-01-01T00:00:00+0100",
        "2024-01-01 00:00:00Z",
        "2024-01-01T00:00:00.25-05:30",
        "2024-01-01T00:00:00 UTC",
        "2024-01-01T00:00:00",
    ]
    parsed = parse_times(pa.array(cells), fmt)
    utc = dt.UTC
    assert parsed.aware.to_pylist() == [
        dt.datetime(2023, 12, 31, 23, tzinfo=utc),
        dt.datetime(2023, 12, 31, 23, tzinfo=utc),
        dt.datetime(2024, 1, 1, tzinfo=utc),
        dt.datetime(2024, 1, 1, 5, 30, 0, 250000, tzinfo=utc),
        dt.datetime(2024, 1, 1, tzinfo=utc),
        None,
    ]
    # A cell without an offset in an offset column stays a wall-clock time.
    assert parsed.naive.to_pylist() == [None] * 5 + [dt.datetime(2024, 1, 1)]
    assert parsed.error.null_count == len(cells)


def test_end_of_day_24_00():
    fmt = detect_time_format(["2024-01-15 23:45", "2024-01-15 24:00"])
    assert naive_values(["2024-01-15 24:00", "2024-01-31 24:00:00", "2024-12-31 24:00"], fmt) == [
        dt.datetime(2024, 1, 16),
        dt.datetime(2024, 2, 1),
        dt.datetime(2025, 1, 1),
    ]
    times = detect_time_format(["00:15", "24:00"])
    minutes, _, error = minutes_of_day(pa.array(["00:15", "0:15", "24:00", "24:00:00", "23:45:00"]), times)
    assert minutes.to_pylist() == [15, 15, 1440, 1440, 1425] and error.null_count == 5
    days = pa.array([dt.date(2024, 1, 15)] * 2, pa.date32())
    assert combine(days, pa.array([0, 1440], pa.int32())).to_pylist() == [dt.datetime(2024, 1, 15), dt.datetime(2024, 1, 16)]


def test_am_pm_times():
    fmt = detect_time_format(["12:00 AM", "1:00 PM"])
    minutes, _, error = minutes_of_day(pa.array(["12:00 AM", "12:30 PM", "1:00 PM", "11:45 pm", "1:00 a.m.", "13:00 PM"]), fmt)
    assert minutes.to_pylist() == [0, 750, 780, 1425, 60, None]
    assert error.to_pylist()[-1].startswith("time '13:00 PM' cannot be read (expected hh:MM AM/PM")


def test_dst_labels_become_folds():
    fmt = detect_time_format(["2020-11-01 01:30 EDT", "2020-11-01 01:30 EST"])
    assert fmt.labels and "DST labels" in fmt.describe()
    cells = [
        "2020-11-01 01:30 EDT",
        "2020-11-01 01:30 EST",
        "2020-11-01 01:30",
        "2024-10-27 02:00 CEST",
        "2024-10-27 02:00 CET",
        "2024-10-27 01:00 BST",
        "2024-10-27 01:00 GMT",
        "2024-10-27 02:00A",
        "2024-10-27 02:00 b",
    ]
    parsed = parse_times(pa.array(cells), fmt)
    assert parsed.fold.to_pylist() == [0, 1, None, 0, 1, 0, 1, 0, 1]
    assert parsed.error.null_count == len(cells)
    assert parsed.naive.to_pylist()[:2] == [dt.datetime(2020, 11, 1, 1, 30)] * 2
    # A label the sample did not show is still read.
    plain = detect_time_format(["2024-10-27 01:00"])
    late = parse_times(pa.array(["2024-10-27 02:00", "2024-10-27 02:00 WET"]), plain)
    assert late.fold.to_pylist() == [None, 1] and late.naive.to_pylist() == [dt.datetime(2024, 10, 27, 2)] * 2


def test_hour_numbers_with_labels_and_prefixes():
    fmt = detect_time_format(["01", "02A", "02B", "03", "25"])
    assert fmt.kind == "hour_number" and fmt.labels
    minutes, fold, error = minutes_of_day(pa.array(["01", "02A", "02B", "03", "25", "H24", "h01", "26", "0", "x"]), fmt)
    assert minutes.to_pylist() == [0, 60, 60, 120, 1440, 1380, 0, None, None, None]
    assert fold.to_pylist() == [None, 0, 1, None, None, None, None, None, None, None]
    assert error.to_pylist()[-1].startswith("hour 'x' cannot be read (expected hour numbers 1..24")
    zero_based = detect_time_format([str(h) for h in range(24)])
    assert zero_based.first_hour == 0
    assert minutes_of_day(pa.array(["0", "23"]), zero_based)[0].to_pylist() == [0, 1380]
    assert detect_time_format(["H01", "H02"]).kind == "hour_number"


def test_bad_cells_are_row_errors_never_exceptions():
    fmt = detect_time_format(["2024-01-01T00:00:00-05:00"])
    cells = [
        "2024-01-01T00:00:00-05:00",
        "0000-01-01T00:00:00-05:00",
        "10000-01-01T00:00:00-05:00",
        "9999-12-31T23:00-05:00",
        "2024-13-01T00:00:00-05:00",
        "2024-02-30T00:00:00-05:00",
        "2024-01-01T25:00:00-05:00",
        "2024-01-01T00:00:60-05:00",
        "",
        None,
        "soon",
        "2024-01-01T00:00:00+99:00",
    ]
    parsed = parse_times(pa.array(cells), fmt)
    errors = parsed.error.to_pylist()
    assert errors[0] is None and parsed.aware[0].as_py() == dt.datetime(2024, 1, 1, 5, tzinfo=dt.UTC)
    for i in (1, 2, 3):
        assert errors[i] == f"timestamp '{cells[i]}' is out of range (years 1900..2200)"
    expected = f"(expected {fmt.describe()})"
    for i in (4, 5, 6, 7, 10, 11):
        assert errors[i] == f"timestamp '{cells[i]}' cannot be read {expected}", i
    assert errors[8] == errors[9] == "missing timestamp"
    assert parsed.aware.null_count == len(cells) - 1 and parsed.naive.null_count == len(cells)


@pytest.mark.parametrize(
    ("sample", "bad"),
    [
        (
            "13.01.2025 00:15",
            ["31.04.2025 00:15", "30.02.2024 00:00", "10.13.2025 00:15", "10.01.2025 25:00", "00.01.2025 00:00", "10.01.1899 00:00"],
        ),
        ("01/13/2024", ["02/30/2024", "13/13/2024", "04/31/2024"]),
        ("2024-01-31 00:00:00", ["2024-04-31 00:00:00", "2024-01-31 00:00:60", "2024-01-31 24:00:01", "2024-01-31 23:59:59.9x"]),
    ],
)
def test_impossible_dates_in_every_layout(sample, bad):
    fmt = detect_time_format([sample])
    parsed = parse_times(pa.array([sample, *bad]), fmt)
    assert parsed.error[0].as_py() is None
    assert all(e is not None for e in parsed.error.to_pylist()[1:]), parsed.error.to_pylist()
    assert parsed.naive.null_count == len(bad)


def test_long_column_with_one_bad_cell_keeps_the_rest():
    stamps = pc.strftime(pa.array(np.arange(200_000) * 900_000, pa.timestamp("ms")), format="%Y-%m-%d %H:%M")
    cells = pc.replace_with_mask(stamps, pa.array(np.arange(200_000) == 123_456), pa.array(["2024-02-30 00:00"]))
    fmt = detect_time_format(cells[:3000].to_pylist())
    parsed = parse_times(cells, fmt)
    assert parsed.error.null_count == 199_999 and parsed.naive.null_count == 1
    assert parsed.naive[200_000 - 1].as_py() == dt.datetime(1970, 1, 1) + dt.timedelta(minutes=15 * 199_999)


def test_chunked_and_padded_input():
    fmt = detect_time_format([" 2024-01-01 00:00 "])
    parsed = parse_times(pa.chunked_array([["2024-01-01 00:00 "], [" 2024-01-01 00:15"]]), fmt)
    assert parsed.naive.to_pylist() == [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 1, 0, 15)]


# ---------------------------------------------------------------------------
# Random instants written in each layout read back to the same wall clock / instant.

LAYOUTS = ("iso_t", "iso_space", "iso_fraction", "iso_offset", "dmy_dots", "mdy_slashes", "split", "end_of_day", "am_pm")

walls = st.datetimes(min_value=dt.datetime(1901, 1, 2), max_value=dt.datetime(2199, 12, 30))


def _fraction(moment: dt.datetime, digits: int) -> str:
    return f"{moment.microsecond:06d}{'7' * 3}"[:digits]


def _am_pm(moment: dt.datetime) -> str:
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    moment=walls,
    layout=st.sampled_from(LAYOUTS),
    digits=st.integers(1, 9),
    offset=st.integers(-12 * 4, 14 * 4).map(lambda q: q * 15),
    colon=st.booleans(),
)
def test_written_instants_read_back(moment, layout, digits, offset, colon):
    minute = moment.replace(second=0, microsecond=0)
    expect_aware = None
    if layout in ("iso_t", "iso_space"):
        sep = "T" if layout == "iso_t" else " "
        cells = [minute.strftime(f"%Y-%m-%d{sep}%H:%M:%S")]
        expected = minute
    elif layout == "iso_fraction":
        text = _fraction(moment, digits)
        cells = [moment.strftime("%Y-%m-%d %H:%M:%S.") + text]
        expected = moment.replace(microsecond=int(text[:3].ljust(3, "0")) * 1000)
    elif layout == "iso_offset":
        sign = "-" if offset < 0 else "+"
        hh, mm = divmod(abs(offset), 60)
        zone = "Z" if offset == 0 and colon else f"{sign}{hh:02d}{':' if colon else ''}{mm:02d}"
        cells = [moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}" + zone]
        expected = None
        wall = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        expect_aware = (wall - dt.timedelta(minutes=offset)).replace(tzinfo=dt.UTC)
    elif layout == "dmy_dots":
        cells = [minute.strftime("%d.%m.%Y %H:%M"), "13.01.2024 00:00"]
        expected = minute
    elif layout == "mdy_slashes":
        cells = [minute.strftime("%m/%d/%Y %H:%M"), "01/13/2024 00:00"]
        expected = minute
    elif layout == "am_pm":
        cells = [minute.strftime("%m/%d/%Y ") + _am_pm(minute), "01/13/2024 1:00 PM"]
        expected = minute
    elif layout == "end_of_day":
        day = minute.replace(hour=0, minute=0)
        cells = [(day - dt.timedelta(days=1)).strftime("%Y-%m-%d") + " 24:00"]
        expected = day
    else:  # split date + time
        dates, times = [minute.strftime("%d/%m/%Y"), "13/01/2024"], [minute.strftime("%H:%M"), "00:00"]
        date_fmt, time_fmt = detect_time_format(dates), detect_time_format(times)
        minutes, _, error = minutes_of_day(pa.array(times), time_fmt)
        assert error.null_count == 2
        stamp = combine(parse_times(pa.array(dates), date_fmt).naive, minutes)[0].as_py()
        assert stamp == minute
        return
    fmt = detect_time_format(cells)
    parsed = parse_times(pa.array(cells), fmt)
    assert parsed.error[0].as_py() is None, (cells, parsed.error[0])
    if expect_aware is not None:
        assert parsed.aware[0].as_py() == expect_aware and parsed.naive[0].as_py() is None
    else:
        assert parsed.naive[0].as_py() == expected and parsed.aware[0].as_py() is None
    # The kernels and the regular-expression reader agree on every layout.
    epoch, aware, status = ts._read_general(pa.array(cells[:1]), fmt)
    assert status[0] == ts.OK
    got = parsed.aware if expect_aware is not None else parsed.naive
    assert epoch[0] == got.cast(pa.int64())[0].as_py()
