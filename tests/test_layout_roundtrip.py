"""One set of readings written in every layout and convention exporters use lands the
same lake rows as the plain long file: detection decides each dialect from the file.

Layouts: long (ISO, newest first, interval-end stamps with 24:00, split date and time,
hour numbers 1..24, DST abbreviations, a preamble with ``sep=;``, Wh with grouping and
decimal commas, gzip), wide by day (a column per quarter hour or hour) and wide by meter
(also as Emporia writes it: the timezone in the time column's header, units in kWhs).
"""

from __future__ import annotations

import datetime as dt
import gzip
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest_lambda.options import IngestOptions
from ingest_lambda.pipeline import ingest_bytes
from ingest_lambda.storage import Lakehouse

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
UTC = dt.UTC
DAY_FIRST = ("interval_end_24h", "wide_by_day", "hour_numbers")  # the layouts written dd.mm.yyyy / dd/mm/yyyy
MONTH_FIRST = ("zone_in_header",)  # written mm/dd/yyyy
ZONE_FROM_FILE = ("zone_in_header",)  # ingested without --timezone: the file names its zone


def local_days(start: dt.date, days: int, zone: ZoneInfo, interval: int) -> list[dt.datetime]:
    """Interval starts (aware, local) covering whole local days, DST days included."""
    begin = dt.datetime.combine(start, dt.time(), zone).astimezone(UTC)
    end = dt.datetime.combine(start + dt.timedelta(days=days), dt.time(), zone).astimezone(UTC)
    out, t = [], begin
    while t < end:
        out.append(t.astimezone(zone))
        t += dt.timedelta(minutes=interval)
    return out


def wall(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M")


def grouped(wh_tenths: int, decimal: str, grouping: str) -> str:
    """Wh with one decimal, the integer part grouped by thousands."""
    whole, tenth = divmod(wh_tenths, 10)
    text = f"{whole:,}".replace(",", grouping)
    return f"{text}{decimal}{tenth}"


def layouts(meters, starts, values, zone, interval, day_count):
    """name -> (bytes, extra options) for every layout of the same readings."""
    stamps = [(m, t, values[m][i]) for m in meters for i, t in enumerate(starts)]
    kwh = lambda wh_tenths: repr(wh_tenths / 10_000)  # noqa: E731
    files = {}
    files["long"] = "meter_id,timestamp,kwh\n" + "".join(f"{m},{wall(t)},{kwh(v)}\n" for m, t, v in stamps)
    files["newest_first"] = "meter_id,timestamp,kwh\n" + "".join(
        f"{m},{wall(t)},{kwh(v)}\n" for m, t, v in sorted(stamps, key=lambda s: (s[0], s[1].astimezone(UTC)), reverse=True)
    )
    end_lines = []
    for m, t, v in stamps:
        end = (t.astimezone(UTC) + dt.timedelta(minutes=interval)).astimezone(zone)
        text = end.strftime("%d.%m.%Y %H:%M")
        if end.hour == 0 and end.minute == 0:  # midnight as 24:00 of the day it ends
            text = (end - dt.timedelta(days=1)).strftime("%d.%m.%Y") + " 24:00"
        end_lines.append(f"{m};{text};{kwh(v).replace('.', ',')}\n")
    files["interval_end_24h"] = "Zaehler;Zeitstempel Ende;Wert [kWh]\n" + "".join(end_lines)
    files["split_date_time"] = "Meter;Date;Start Time;Usage (kWh)\n" + "".join(
        f"{m};{t:%Y-%m-%d};{t:%H:%M};{kwh(v).replace('.', ',')}\n" for m, t, v in stamps
    )
    files["dst_abbreviations"] = (
        "meter,timestamp,kwh\n" + "".join(f"{m},{wall(t)} {t.tzname()},{kwh(v)}\n" for m, t, v in stamps) if zone.key != "UTC" else None
    )
    files["preamble_sep_grouping_wh"] = "sep=;\nAccount;Example Person\n\nMeter;Timestamp;Energy (Wh)\n" + "".join(
        f"{m};{wall(t)};{grouped(v, ',', '.')}\n" for m, t, v in stamps
    )
    files["gzip"] = gzip.compress(files["long"].encode(), mtime=0)
    files["wide_by_meter"] = (
        "timestamp,"
        + ",".join(f"{m} (kWh)" for m in meters)
        + "\n"
        + "".join(f"{wall(t)}," + ",".join(kwh(values[m][i]) for m in meters) + "\n" for i, t in enumerate(starts))
        if len(meters) > 1
        else None
    )
    # Emporia's export: the zone in the time column's header, month-first dates with
    # seconds, one column per circuit in kWhs; read without --timezone.
    files["zone_in_header"] = (
        f"Time Bucket ({zone.key}),"
        + ",".join(f"{m} (kWhs)" for m in meters)
        + "\n"
        + "".join(f"{t:%m/%d/%Y %H:%M:%S}," + ",".join(kwh(values[m][i]) for m in meters) + "\n" for i, t in enumerate(starts))
        if len(meters) > 1
        else None
    )
    regular = len(starts) == day_count * 1440 // interval  # no clock change in the period
    if regular:
        per_day = 1440 // interval
        labels = [
            f"{s * interval // 60:02d}:{s * interval % 60:02d}-{(s + 1) * interval // 60:02d}:{(s + 1) * interval % 60:02d}"
            for s in range(per_day)
        ]
        rows = []
        for m in meters:
            for d in range(day_count):
                day = starts[d * per_day]
                cells = [kwh(values[m][d * per_day + s]).replace(".", ",") for s in range(per_day)]
                rows.append(f"{m};{day:%d.%m.%Y};" + ";".join(cells) + "\n")
        files["wide_by_day"] = "Meter;Datum;" + ";".join(labels) + "\n" + "".join(rows)
        if interval == 60:
            files["hour_numbers"] = "CUPS;Fecha;Hora;Consumo_kWh\n" + "".join(
                f"{m};{t:%d/%m/%Y};{t.hour + 1};{kwh(v).replace('.', ',')}\n" for m, t, v in stamps
            )
    return {name: (data if isinstance(data, bytes) else data.encode()) for name, data in files.items() if data is not None}


def lake(home) -> dict:
    files = sorted((home / "lake" / "readings").glob("*/*.parquet"))
    rows = pq.ParquetDataset(files).read().to_pylist() if files else []
    return {(r["meter_id"], r["reading_start"], r["interval_minutes"], r["flow"]): r["kwh"] for r in rows}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]),
    start=st.sampled_from([dt.date(2024, 2, 5), dt.date(2024, 3, 30), dt.date(2024, 10, 26), dt.date(2024, 11, 2), dt.date(2025, 7, 14)]),
    day_count=st.integers(1, 2),
    interval=st.sampled_from([15, 60]),
    meter_count=st.integers(1, 2),
    data=st.data(),
)
def test_every_layout_lands_the_same_rows(tmp_path_factory, zone, start, day_count, interval, meter_count, data):
    tz = ZoneInfo(zone)
    starts = local_days(start, day_count, tz, interval)
    meters = [f"m{i}" for i in range(1, meter_count + 1)]
    values = {m: data.draw(st.lists(st.integers(0, 20_000_000), min_size=len(starts), max_size=len(starts)), label=m) for m in meters}
    # At least one value of a meter has a thousands group and a decimal digit, as real
    # Wh exports do: otherwise '1.234' could be read either way and is refused.
    values[meters[0]][0] = 12_345_6
    # One day whose day of the month is 12 or less: a day-first date cannot be told from
    # a month-first one by the file, so those layouts get the option a user would give.
    undecidable = day_count == 1 and start.day <= 12
    reference = None
    for name, payload in layouts(meters, starts, values, tz, interval, day_count).items():
        home = tmp_path_factory.mktemp(name)
        extra = (
            {"date_order": "dmy"}
            if undecidable and name in DAY_FIRST
            else {"date_order": "mdy"}
            if undecidable and name in MONTH_FIRST
            else {}
        )
        if name not in ZONE_FROM_FILE:
            extra["timezone"] = zone
        report = ingest_bytes(payload, f"raw/{name}.csv", Lakehouse.local(str(home)), IngestOptions(**extra), now=NOW)
        assert report.outcome == "accepted", (name, report.message)
        assert report.rows_quarantined == 0, (name, report.reasons)
        rows = lake(home)
        if reference is None:
            reference = rows
            assert len(reference) == len(starts) * len(meters)
            continue
        assert rows.keys() == reference.keys(), name
        for key, value in reference.items():
            assert rows[key] == pytest.approx(value, rel=1e-12, abs=1e-12), (name, key)
