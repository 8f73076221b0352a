"""Large files in batches, generated inputs, concurrent uploads and crashes mid-ingest."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import string
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest_lambda.options import IngestOptions
from ingest_lambda.pipeline import ingest_bytes, ingest_file
from ingest_lambda.storage import Area, Lakehouse
from ingest_lambda.validate import validator
from sampledata.generator import generate_long_format, generate_seed_format

NOW = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)


def lake_rows(home: Path) -> list[dict]:
    files = sorted((home / "lake" / "readings").glob("*/*.parquet"))
    return pq.ParquetDataset(files).read().to_pylist() if files else []


def contract(rows: list[dict]) -> set:
    return {(r["meter_id"], r["reading_start"], r["interval_minutes"], r["kwh"]) for r in rows}


def test_small_blocks_give_the_same_lake_as_one_block(tmp_path):
    sample = generate_long_format(tmp_path / "m.csv", meters=5, days=3, interval_minutes=15)
    one = Lakehouse.local(str(tmp_path / "one"))
    many = Lakehouse.local(str(tmp_path / "many"))
    a = ingest_file(sample.data_path, "raw/m.csv", one, now=NOW)
    b = ingest_file(sample.data_path, "raw/m.csv", many, now=NOW, block_bytes=4096)
    assert (a.rows_in, a.rows_landed) == (b.rows_in, b.rows_landed) == (1440, 1440)
    rows_a, rows_b = lake_rows(tmp_path / "one"), lake_rows(tmp_path / "many")
    assert contract(rows_a) == contract(rows_b)
    assert sorted(r["source_row"] for r in rows_b) == list(range(1, 1441))


def test_duplicates_across_batches_are_quarantined(tmp_path):
    header = "meter_id,timestamp,value\n"
    body = "".join(f"m1,2024-01-01T{h:02d}:00:00Z,1.0\n" for h in range(24))
    # Far apart, so they fall in different batches: an exact repeat and a conflict.
    tail = "m1,2024-01-01T03:00:00Z,1.0\nm1,2024-01-01T07:00:00Z,9.0\n"
    data = (
        header + body + "m2,2024-01-01T00:00:00Z,2.0\n" * 1 + "".join(f"m2,2024-01-01T{h:02d}:00:00Z,2.0\n" for h in range(1, 24)) + tail
    ).encode()
    lakehouse = Lakehouse.local(str(tmp_path / "home"))
    report = ingest_bytes(data, "raw/d.csv", lakehouse, now=NOW, block_bytes=256)
    assert report.outcome == "accepted"
    assert report.rows_in == 50
    assert report.rows_quarantined == 3  # the repeat, and both values of 07:00
    assert report.rows_landed == 47 == len(lake_rows(tmp_path / "home"))
    quarantined = pq.read_table(report.quarantine_object).to_pylist()
    assert sorted(r["row_number"] for r in quarantined) == [8, 49, 50]
    assert any("exact repeat" in r["reason"] for r in quarantined)
    validations = pq.ParquetDataset(sorted((tmp_path / "home" / "dq" / "validations").glob("*/*.parquet"))).read().to_pylist()
    by_name = {v["expectation"]: v for v in validations}
    assert by_name["expect_column_values_to_be_in_set(key_conflict)"]["unexpected_count"] == 2
    assert by_name["expect_column_values_to_be_in_set(is_repeat)"]["unexpected_count"] == 1


def test_register_reads_and_intervals_carry_across_batches(tmp_path):
    header = "meter_id,timestamp,value\n"
    data = (header + "".join(f"m1,2024-01-01T{h:02d}:00:00Z,{100 + 2 * h}\n" for h in range(24))).encode()
    lakehouse = Lakehouse.local(str(tmp_path / "home"))
    report = ingest_bytes(data, "raw/r.csv", lakehouse, IngestOptions(register=True), now=NOW, block_bytes=128)
    assert (report.rows_in, report.rows_landed, report.rows_quarantined) == (24, 23, 1)
    rows = lake_rows(tmp_path / "home")
    assert {r["kwh"] for r in rows} == {2.0} and {r["interval_minutes"] for r in rows} == {60}


def test_row_numbers_stay_right_around_malformed_rows_in_many_batches(tmp_path):
    lines = [f"2024-01-01 {h:02d}:00:00,hvac,1.0" for h in range(24)]
    lines[5] = "2024-01-01 05:00:00,hvac"  # too few fields
    lines[17] = "2024-01-01 17:00:00,hvac,x"  # not a number
    data = ("timestamp,appliance,kwh\n" + "\n".join(lines) + "\n").encode()
    lakehouse = Lakehouse.local(str(tmp_path / "home"))
    report = ingest_bytes(data, "raw/x.csv", lakehouse, now=NOW, block_bytes=100)
    quarantined = {r["row_number"]: r["reason"] for r in pq.read_table(report.quarantine_object).to_pylist()}
    assert set(quarantined) == {6, 18}
    assert sorted(r["source_row"] for r in lake_rows(tmp_path / "home")) == [n for n in range(1, 25) if n not in (6, 18)]


# --- generated files -----------------------------------------------------------

CELL = st.text(alphabet=string.ascii_letters + string.digits + " .:-+/_", max_size=12)
TIMESTAMP = st.one_of(
    st.datetimes(min_value=dt.datetime(2023, 1, 1), max_value=dt.datetime(2025, 12, 31)).map(
        lambda d: d.replace(second=0, microsecond=0, minute=(d.minute // 15) * 15).isoformat(sep=" ")
    ),
    st.datetimes(min_value=dt.datetime(2023, 1, 1), max_value=dt.datetime(2025, 12, 31)).map(lambda d: d.isoformat() + "Z"),
    CELL,
)
VALUE = st.one_of(st.floats(min_value=-10, max_value=1e7, allow_nan=False).map(repr), st.integers(-5, 500).map(str), CELL)
ROW = st.tuples(TIMESTAMP, st.sampled_from(["m1", "m2", "m3", ""]), VALUE, st.integers(0, 20))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    rows=st.lists(ROW, max_size=60),
    delimiter=st.sampled_from([",", ";", "\t"]),
    timezone=st.sampled_from(["UTC", "Europe/Paris", "America/New_York"]),
    register=st.booleans(),
    block_bytes=st.sampled_from([64, 512, 1 << 20]),
    gzip_it=st.booleans(),
)
@example(
    rows=[("2023-01-01 00:00:00", "m1", "0.0", 1), ("2023-02-01 00:00:00", "m1", "0.0", 1)],
    delimiter=",",
    timezone="UTC",
    register=True,
    block_bytes=64,
    gzip_it=False,
)
def test_generated_csvs_never_crash_and_every_row_is_accounted_for(
    tmp_path_factory, rows, delimiter, timezone, register, block_bytes, gzip_it
):
    import gzip

    lines = ["timestamp" + delimiter + "meter" + delimiter + "kwh"]
    for ts, meter, value, extra in rows:
        fields = [ts, meter, value] + (["x"] if extra == 0 else []) if extra else [ts, meter]
        lines.append(delimiter.join(fields))
    text = "\n".join(lines) + "\n"
    data = gzip.compress(text.encode()) if gzip_it else text.encode()
    home = tmp_path_factory.mktemp("prop")
    report = ingest_bytes(
        data,
        "raw/p.csv",
        Lakehouse.local(str(home)),
        IngestOptions(timezone=timezone, register=register),
        now=NOW,
        block_bytes=block_bytes,
    )
    non_blank = [line for line in lines[1:] if line.strip()]
    # Counts are of readings: register reads at irregular times are apportioned to a grid,
    # and then the readings are the grid's intervals (README: "Counts are of readings").
    resampled = bool((report.dialect or {}).get("register_grid_minutes"))
    assert report.rows_in == len(non_blank) or report.outcome == "rejected" or resampled
    assert report.rows_landed + report.rows_quarantined == report.rows_in
    landed = lake_rows(home)
    assert len(landed) == report.rows_landed
    if report.outcome == "rejected":
        assert landed == [] and report.message
    else:
        assert all(r["kwh"] >= 0 and r["meter_id"] for r in landed)


# --- concurrency and crashes ----------------------------------------------------------


def _ingest_in_child(args):
    home, path, key = args
    report = ingest_file(Path(path), key, Lakehouse.local(home), now=NOW)
    return report.outcome, report.rows_landed, report.ingest_id


def test_ten_concurrent_uploads_into_one_lake(tmp_path):
    validator()  # warm Great Expectations once; forked workers inherit it
    home = str(tmp_path / "home")
    files = []
    for i in range(8):
        files.append(generate_long_format(tmp_path / f"u{i}.csv", meters=2, days=2, interval_minutes=60, seed=100 + i).data_path)
    jobs = [(home, str(p), f"raw/{p.name}") for p in files]
    jobs += [(home, str(files[0]), "raw/u0-again.csv"), (home, str(files[1]), "raw/u1.csv")]  # the same bytes at once
    with multiprocessing.get_context("fork").Pool(5) as pool:
        results = pool.map(_ingest_in_child, jobs)
    assert all(outcome in ("accepted", "already_ingested") for outcome, _, _ in results)
    assert len({ingest_id for _, _, ingest_id in results}) == 8
    objects = sorted((Path(home) / "lake" / "readings").glob("*/*.parquet"))
    assert len(objects) == 8
    rows = lake_rows(Path(home))
    assert len(rows) == 8 * 2 * 48
    assert not list((Path(home) / "lake").rglob(".tmp-*"))


class Crash(RuntimeError):
    pass


def test_crash_before_the_lake_commit_leaves_nothing_visible_and_retry_completes(tmp_path, monkeypatch):
    sample = generate_seed_format(tmp_path / "s.csv", days=2)
    home = tmp_path / "home"
    lakehouse = Lakehouse.local(str(home))
    real_staged = Area.staged

    def crashing_staged(self, key):
        if key.startswith("readings/"):
            raise Crash("power cut before the lake object was committed")
        return real_staged(self, key)

    monkeypatch.setattr(Area, "staged", crashing_staged)
    with pytest.raises(Crash):
        ingest_file(sample.data_path, "raw/s.csv", lakehouse, now=NOW)
    assert lake_rows(home) == []
    assert not [p for p in (home / "dq" / "ingests").glob("*.json") if not p.name.endswith(".intent.json")]

    monkeypatch.setattr(Area, "staged", real_staged)
    retry = ingest_file(sample.data_path, "raw/s.csv", lakehouse, now=NOW + dt.timedelta(days=1))
    assert retry.outcome == "accepted" and retry.rows_landed == 192
    assert len(lake_rows(home)) == 192


def test_crash_after_the_lake_commit_is_not_landed_twice(tmp_path, monkeypatch):
    sample = generate_seed_format(tmp_path / "s.csv", days=2)
    home = tmp_path / "home"
    lakehouse = Lakehouse.local(str(home))
    real_write_json = Area.write_json

    def crash_on_run_record(self, key, document):
        if key.startswith("ingests/") and not key.endswith(".intent.json"):
            raise Crash("crash between the lake object and the run record")
        return real_write_json(self, key, document)

    monkeypatch.setattr(Area, "write_json", crash_on_run_record)
    with pytest.raises(Crash):
        ingest_file(sample.data_path, "raw/s.csv", lakehouse, now=NOW)
    first_objects = sorted((home / "lake" / "readings").glob("*/*.parquet"))
    assert len(first_objects) == 1

    monkeypatch.setattr(Area, "write_json", real_write_json)
    retry = ingest_file(sample.data_path, "raw/s.csv", lakehouse, now=NOW + dt.timedelta(days=1))
    assert retry.outcome == "accepted"
    assert sorted((home / "lake" / "readings").glob("*/*.parquet")) == first_objects  # same key, a day later
    assert len(lake_rows(home)) == 192
    again = ingest_file(sample.data_path, "raw/s.csv", lakehouse, now=NOW + dt.timedelta(days=2))
    assert again.outcome == "already_ingested"
