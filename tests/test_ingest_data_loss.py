"""Uploads that must never be lost or wrongly skipped, and inputs that must not exhaust
time, memory or disk: same-named uploads, late retries, bad-row limits, stray quotes,
gzip bombs, CR-only line ends, unexpected errors, late bad bytes and absurd headers."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import multiprocessing
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from energy.status import lake_status
from energy.warehouse import build, query
from ingest_lambda import parse, pipeline
from ingest_lambda.options import IngestOptions
from ingest_lambda.parse import Upload
from ingest_lambda.pipeline import ingest_bytes, ingest_file, ingest_id_for
from ingest_lambda.storage import Area
from ingest_lambda.validate import validator

from .conftest import CORPUS, run_cli

NOW = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)
HEADER = "meter_id,timestamp,value\n"


def day_of(meter: str, day: str = "2024-03-01") -> str:
    return HEADER + "".join(f"{meter},{day}T{h:02d}:00:00Z,{1 + h / 10}\n" for h in range(24))


def lake_objects(workspace) -> list[Path]:
    return sorted((workspace.lake / "readings").glob("*/*.parquet"))


def lake_rows(workspace) -> list[dict]:
    files = lake_objects(workspace)
    return pq.ParquetDataset(files).read().to_pylist() if files else []


# --- 1. uploads with the same file name ---------------------------------------------


def test_two_sites_with_the_same_file_name_both_land(workspace, tmp_path):
    for site in ("site_a", "site_b"):
        (tmp_path / site).mkdir()
        (tmp_path / site / "readings.csv").write_text(day_of(site))
    result = run_cli("ingest", str(tmp_path / "site_a" / "readings.csv"), str(tmp_path / "site_b" / "readings.csv"))
    assert result.exit_code == 0, result.output
    rows = lake_rows(workspace)
    assert {r["meter_id"] for r in rows} == {"site_a", "site_b"} and len(rows) == 48
    staged = {p.read_text() for p in workspace.raw.glob("readings*.csv")}
    assert staged == {day_of("site_a"), day_of("site_b")}
    # Each landed row names the raw/ file that holds its bytes.
    for row in rows:
        assert row["meter_id"] in (workspace.home / row["source_key"]).read_text()


def test_a_changed_file_never_replaces_the_staged_one_and_the_same_file_is_skipped(workspace, tmp_path):
    upload = tmp_path / "readings.csv"
    upload.write_text(day_of("m1"))
    assert run_cli("ingest", str(upload)).exit_code == 0
    assert run_cli("ingest", str(upload)).exit_code == 0
    assert len(lake_objects(workspace)) == 1
    assert sorted(p.name for p in workspace.raw.iterdir()) == ["readings.csv"]
    upload.write_text(day_of("m1", "2024-03-02"))
    assert run_cli("ingest", str(upload)).exit_code == 0
    assert (workspace.raw / "readings.csv").read_text() == day_of("m1")
    assert len(list(workspace.raw.glob("readings*.csv"))) == 2
    assert len(lake_rows(workspace)) == 48


def test_the_same_upload_twice_in_one_command_is_a_usage_error(workspace, tmp_path):
    upload = tmp_path / "readings.csv"
    upload.write_text(day_of("m1"))
    result = run_cli("ingest", str(upload), str(upload))
    assert result.exit_code == 2
    assert "give each file once" in result.output
    assert lake_rows(workspace) == []
    assert not list(workspace.raw.glob(".incoming-*"))


def _ingest_after(barrier, home: str, path: str) -> None:
    import os

    os.environ["ENERGY_HOME"] = home
    barrier.wait()
    result = run_cli("ingest", path)
    os._exit(result.exit_code)


def test_concurrent_commands_with_the_same_file_name_land_both_with_their_own_ids(workspace, tmp_path):
    validator()  # warm Great Expectations once; forked children inherit it
    files = []
    for site in ("site_a", "site_b", "site_c"):
        (tmp_path / site).mkdir()
        files.append(tmp_path / site / "readings.csv")
        files[-1].write_text(day_of(site))
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(files))
    children = [context.Process(target=_ingest_after, args=(barrier, str(workspace.home), str(f))) for f in files]
    for child in children:
        child.start()
    for child in children:
        child.join(300)
    assert [child.exitcode for child in children] == [0, 0, 0]
    ids = {ingest_id_for(Upload(path=f), IngestOptions()): f.parent.name for f in files}
    rows = lake_rows(workspace)
    assert len(rows) == 72
    assert {(r["ingest_id"], r["meter_id"]) for r in rows} == set(ids.items())


# --- 2. a retry long after an interrupted attempt -----------------------------------------


class Crash(RuntimeError):
    pass


def test_an_upload_retried_a_week_later_reaches_the_next_incremental_build(workspace, lakehouse, monkeypatch):
    day = dt.datetime(2024, 3, 2, 12, tzinfo=dt.UTC)
    ingest_bytes(day_of("early").encode(), "raw/early.csv", lakehouse, now=day)
    assert build(workspace).success

    real_staged = Area.staged

    def crashing_staged(self, key):
        if key.startswith("readings/"):
            raise Crash("power cut between the intent and the lake commit")
        return real_staged(self, key)

    monkeypatch.setattr(Area, "staged", crashing_staged)
    with pytest.raises(Crash):
        ingest_bytes(day_of("late").encode(), "raw/late.csv", lakehouse, now=day + dt.timedelta(days=1))
    monkeypatch.setattr(Area, "staged", real_staged)

    week_later = day + dt.timedelta(days=8)
    ingest_bytes(day_of("other").encode(), "raw/other.csv", lakehouse, now=week_later)
    assert build(workspace).success
    retry = ingest_bytes(day_of("late").encode(), "raw/late.csv", lakehouse, now=week_later + dt.timedelta(hours=1))
    assert retry.outcome == "accepted"
    assert build(workspace).success

    meters = query(workspace, "select meter_id, count(*) as n from stg_lake__readings group by 1 order by 1").to_pylist()
    assert meters == [{"meter_id": "early", "n": 24}, {"meter_id": "late", "n": 24}, {"meter_id": "other", "n": 24}]
    daily = query(workspace, "select total_kwh from fct_daily_consumption where meter_id = 'late'").to_pylist()
    assert daily == [{"total_kwh": pytest.approx(sum(1 + h / 10 for h in range(24)))}]
    # The partition and ingested_at agree, and nothing of the first attempt is left over.
    late = [p for p in lake_objects(workspace) if retry.ingest_id in p.name]
    assert [p.parent.name for p in late] == [f"ingest_date={week_later.date()}"]
    stamps = {r["ingested_at"].date() for r in lake_rows(workspace) if r["meter_id"] == "late"}
    assert stamps == {week_later.date()}
    validations = sorted((workspace.dq / "validations").rglob(f"{retry.ingest_id}.parquet"))
    assert [p.parent.name for p in validations] == [f"ingest_date={week_later.date()}"]


def test_a_committed_attempt_retried_a_week_later_keeps_its_key_and_time(workspace, lakehouse, monkeypatch):
    real_write_json = Area.write_json

    def crash_on_run_record(self, key, document):
        if key.startswith("ingests/") and not key.endswith(".intent.json"):
            raise Crash("crash between the lake object and the run record")
        return real_write_json(self, key, document)

    monkeypatch.setattr(Area, "write_json", crash_on_run_record)
    with pytest.raises(Crash):
        ingest_bytes(day_of("m1").encode(), "raw/m1.csv", lakehouse, now=NOW)
    monkeypatch.setattr(Area, "write_json", real_write_json)
    retry = ingest_bytes(day_of("m1").encode(), "raw/m1.csv", lakehouse, now=NOW + dt.timedelta(days=7))
    assert retry.outcome == "accepted"
    assert [p.parent.name for p in lake_objects(workspace)] == [f"ingest_date={NOW.date()}"]
    assert {r["ingested_at"] for r in lake_rows(workspace)} == {NOW.replace(tzinfo=None)}
    assert retry.ingested_at == NOW.isoformat()


# --- 3. options that cannot change the landed rows -------------------------------------


def test_another_bad_row_limit_is_the_same_ingest(workspace, lakehouse):
    data = (CORPUS / "text_in_one_number.csv").read_bytes()
    first = ingest_bytes(data, "raw/x.csv", lakehouse, now=NOW)
    again = ingest_bytes(data, "raw/x.csv", lakehouse, IngestOptions(max_bad_row_share=0.5), now=NOW)
    assert again.outcome == "already_ingested" and again.ingest_id == first.ingest_id
    assert len(lake_objects(workspace)) == 1
    assert len(lake_rows(workspace)) == 23


def test_a_file_rejected_for_bad_rows_is_accepted_with_a_looser_limit(workspace, lakehouse):
    data = (CORPUS / "text_in_one_number.csv").read_bytes()  # 1 bad row in 24
    strict = ingest_bytes(data, "raw/x.csv", lakehouse, IngestOptions(max_bad_row_share=0.01), now=NOW)
    assert strict.outcome == "rejected" and (workspace.quarantine / "files" / strict.ingest_id / "reason.json").exists()
    loose = ingest_bytes(data, "raw/x.csv", lakehouse, IngestOptions(max_bad_row_share=0.1), now=NOW + dt.timedelta(days=3))
    assert loose.outcome == "accepted" and loose.ingest_id == strict.ingest_id
    assert (loose.rows_in, loose.rows_landed, loose.rows_quarantined) == (24, 23, 1)
    assert len(lake_rows(workspace)) == 23
    assert not (workspace.quarantine / "files" / strict.ingest_id).exists()
    quarantined = [pq.read_table(p).num_rows for p in (workspace.quarantine / "rows").rglob("*.parquet")]
    assert quarantined == [1]
    record = json.loads((workspace.dq / "ingests" / f"{loose.ingest_id}.json").read_text())
    assert record["outcome"] == "accepted"


# --- 9. a stray double quote ---------------------------------------------------------------


@pytest.mark.parametrize("block_bytes", [256, parse.DEFAULT_BLOCK_BYTES])
@pytest.mark.parametrize("stray_row", [7, 24])
def test_an_unterminated_quote_is_quarantined_with_its_row_number(workspace, lakehouse, block_bytes, stray_row):
    lines = [f"m1,2024-03-01T{h:02d}:00:00Z,{1 + h / 10}" for h in range(24)]
    lines[stray_row - 1] = lines[stray_row - 1].replace(",", ',"', 2)[::-1].replace('"', "", 1)[::-1]
    assert lines[stray_row - 1].count('"') == 1
    data = (HEADER + "\n".join(lines) + "\n").encode()
    report = ingest_bytes(data, "raw/q.csv", lakehouse, IngestOptions(interval_minutes=60), now=NOW, block_bytes=block_bytes)
    assert report.outcome == "accepted", report.message
    assert (report.rows_in, report.rows_landed, report.rows_quarantined) == (24, 23, 1)
    quarantined = pq.read_table(report.quarantine_object).to_pylist()
    assert [(r["row_number"], "never closed" in r["reason"]) for r in quarantined] == [(stray_row, True)]
    assert sorted(r["source_row"] for r in lake_rows(workspace)) == [n for n in range(1, 25) if n != stray_row]


def test_quoted_fields_and_quotes_inside_fields_are_read_across_blocks(workspace, lakehouse):
    rows = [f'"m1","2024-03-01T{h:02d}:00:00Z","{1 + h / 10}"' for h in range(12)]
    rows += [f"m1,2024-03-01T{h:02d}:00:00Z,{1 + h / 10}" for h in range(12, 24)]
    data = ("meter_id,timestamp,value,note\n" + "\n".join(r + ',12" pipe' for r in rows) + "\n").encode()
    report = ingest_bytes(data, "raw/q.csv", lakehouse, IngestOptions(interval_minutes=60), now=NOW, block_bytes=64)
    assert (report.rows_in, report.rows_landed) == (24, 24), report.reasons


# --- 10. gzip uploads --------------------------------------------------------------------


@pytest.fixture
def temp_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "system-temp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_a_truncated_gzip_is_rejected_and_leaves_no_temporary_file(workspace, lakehouse, temp_dir, tmp_path):
    whole = gzip.compress(("meter_id,timestamp,value\n" + "m1,2024-03-01T00:00:00Z,1.5\n" * 200_000).encode())
    upload = tmp_path / "t.csv.gz"
    upload.write_bytes(whole[: len(whole) // 2])
    report = ingest_file(upload, "raw/t.csv.gz", lakehouse, now=NOW)
    assert report.outcome == "rejected" and report.rejection_code == "corrupt_gzip"
    assert list(temp_dir.iterdir()) == []


def test_a_gzip_bomb_is_refused_early_and_leaves_no_temporary_file(workspace, lakehouse, temp_dir, monkeypatch):
    monkeypatch.setattr(parse, "INFLATE_RATIO_FROM_BYTES", 1 << 20)
    bomb = gzip.compress(("meter_id,timestamp,value\n" + "m1,2024-03-01T00:00:00Z,1.5\n" * 1_000_000).encode())
    report = ingest_bytes(bomb, "raw/b.csv.gz", lakehouse, now=NOW)
    assert report.outcome == "rejected" and report.rejection_code == "gzip_bomb"
    assert "200 times" in report.message
    assert list(temp_dir.iterdir()) == []
    assert lake_rows(workspace) == []
    assert (workspace.quarantine / "files" / report.ingest_id / "reason.json").exists()


def test_a_gzip_of_binary_data_is_refused_on_its_first_mebibyte(workspace, lakehouse, temp_dir):
    report = ingest_bytes(gzip.compress(b"PK\x03\x04" + b"\x00" * (4 << 20)), "raw/x.csv.gz", lakehouse, now=NOW)
    assert report.outcome == "rejected" and report.rejection_code == "not_text"
    assert list(temp_dir.iterdir()) == []


def test_an_accepted_gzip_leaves_no_temporary_file(workspace, lakehouse, temp_dir):
    report = ingest_bytes((CORPUS / "gzip_upload.csv.gz").read_bytes(), "raw/g.csv.gz", lakehouse, now=NOW)
    assert report.outcome == "accepted"
    assert list(temp_dir.iterdir()) == []


# --- 11. CR-only line ends and unexpected errors ---------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
def test_cr_only_line_ends_are_read(workspace, lakehouse, compress):
    data = day_of("mac").replace("\n", "\r").encode()
    report = ingest_bytes(gzip.compress(data) if compress else data, "raw/mac.csv", lakehouse, now=NOW, block_bytes=256)
    assert report.outcome == "accepted", report.message
    assert (report.rows_in, report.rows_landed) == (24, 24)
    assert sorted(r["source_row"] for r in lake_rows(workspace)) == list(range(1, 25))


def test_an_unexpected_error_is_recorded_and_the_file_kept(workspace, lakehouse, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("a fault in the reading code")

    monkeypatch.setattr(pipeline, "normalise", broken)
    report = ingest_bytes(day_of("m1").encode(), "raw/m1.csv", lakehouse, now=NOW)
    assert report.outcome == "rejected" and report.rejection_code == "internal_error"
    assert "KeyError" in report.message
    kept = workspace.quarantine / "files" / report.ingest_id
    assert (kept / "m1.csv").read_text() == day_of("m1")
    assert json.loads((kept / "reason.json").read_text())["code"] == "internal_error"
    assert lake_status(workspace).ingest_totals["in_flight"] == 0
    # Once the fault is gone, the same upload is read again and lands.
    monkeypatch.undo()
    again = ingest_bytes(day_of("m1").encode(), "raw/m1.csv", lakehouse, now=NOW)
    assert again.outcome == "accepted" and len(lake_rows(workspace)) == 24
    assert not kept.exists()


# --- 13. late bad bytes, absurd headers ----------------------------------------------------


def test_bytes_that_are_not_utf8_after_the_first_mebibyte_quarantine_their_row(workspace, lakehouse):
    lines = [f"m{m},2024-03-01T{h:02d}:00:00Z,{1 + h / 10}" for m in range(2000) for h in range(24)]
    bad_row = len(lines) - 10
    data = (HEADER + "\n".join(lines) + "\n").encode()
    assert len(data) > (1 << 20) + 10_000
    target = ("\n" + lines[bad_row - 1] + "\n").encode()
    position = data.index(target) + len(target) - 2
    data = data[:position] + b"\xff" + data[position:]
    report = ingest_bytes(data, "raw/u.csv", lakehouse, now=NOW)
    assert report.outcome == "accepted", report.message
    assert (report.rows_in, report.rows_landed, report.rows_quarantined) == (len(lines), len(lines) - 1, 1)
    quarantined = pq.read_table(report.quarantine_object).to_pylist()
    assert [r["row_number"] for r in quarantined] == [bad_row]
    assert "not UTF-8" in quarantined[0]["reason"] and "'value'" in quarantined[0]["reason"]


def test_an_absurdly_wide_header_is_refused_before_any_row_is_read(workspace, lakehouse):
    header = ",".join(f"c{i}" for i in range(110_000)) + "\n"
    report = ingest_bytes((header + "1,2,3\n").encode(), "raw/w.csv", lakehouse, now=NOW)
    assert report.outcome == "rejected" and report.rejection_code == "too_many_columns"
    assert "110,000 columns" in report.message and len(report.message) < 300
