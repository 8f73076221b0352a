"""`energy sql` on the demo warehouse: queries work, and nothing else does. It reads the
warehouse and the lake views, never another file; it writes nothing and changes no
setting; its CSV opens in a spreadsheet as data, not formulas."""

from __future__ import annotations

import csv
import io

import pytest

from .conftest import run_cli


@pytest.fixture
def demo(demo_workspace, monkeypatch):
    monkeypatch.setenv("ENERGY_HOME", str(demo_workspace.home))
    monkeypatch.setenv("COLUMNS", "400")  # one line per message
    return demo_workspace


def csv_rows(output: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(output)))


def test_the_readme_queries_and_the_lake_views_still_work(demo):
    count = run_cli("sql", "select count(*) as n from stg_lake__readings", "--format", "csv")
    assert count.exit_code == 0, count.output
    assert csv_rows(count.output) == [["n"], ["2880"]]
    for statement in (
        "select * from rpt_summary",
        "select * from fct_reading_anomalies where is_anomaly order by abs(z_score) desc limit 10",
        "describe stg_lake__readings",
        "show tables",
    ):
        result = run_cli("sql", statement)
        assert result.exit_code == 0, (statement, result.output)
    # The lake views read the Parquet files of the workspace (the only files allowed).
    lake = run_cli(
        "sql",
        "select (select count(*) from lake.readings) as readings, (select count(*) > 0 from dq.validations) as validated",
        "--format",
        "csv",
    )
    assert lake.exit_code == 0, lake.output
    assert csv_rows(lake.output)[1] == ["2880", "True"]


def test_copy_writes_no_file_anywhere(demo, tmp_path):
    outside = tmp_path / "stolen.csv"
    partition = next((demo.lake / "readings").glob("ingest_date=*"))
    fake = partition / "fake.parquet"
    for target in (outside, fake):
        result = run_cli("sql", f"copy (select * from stg_lake__readings) to '{target}'")
        assert result.exit_code == 1
        assert "COPY statements are refused" in result.output and "write a SELECT" in result.output
        assert "Traceback" not in result.output
        assert not target.exists()
    # Hidden after a query in the same text: refused before anything runs.
    result = run_cli("sql", f"select 1; copy (select 1 as x) to '{outside}'")
    assert result.exit_code == 1 and "COPY statements are refused" in result.output
    assert not outside.exists()


def test_attach_and_set_are_refused(demo, tmp_path):
    other = tmp_path / "other.duckdb"
    for statement, kind in (
        (f"attach '{other}' as other", "ATTACH"),
        ("set enable_external_access = true", "SET"),
        ("set threads = 1", "SET"),
        ("call pragma_version()", "CALL"),
    ):
        result = run_cli("sql", statement)
        assert result.exit_code == 1, (statement, result.output)
        assert f"{kind} statements are refused" in result.output
        assert "Traceback" not in result.output
    assert not other.exists()


@pytest.mark.parametrize("reader", ["read_text('{path}')", "read_csv('{path}')", "read_blob('{path}')"])
def test_local_files_outside_the_lake_cannot_be_read(demo, reader):
    for path in ("/etc/passwd", demo.home / "sources.json", demo.raw / "sample.csv", f"{demo.lake / 'readings'}/../../raw/sample.csv"):
        result = run_cli("sql", f"select * from {reader.format(path=path)}")
        assert result.exit_code == 1, (path, result.output)
        assert "outside the warehouse" in result.output and "energy ingest FILE" in result.output
        assert "Traceback" not in result.output


def test_csv_neutralises_formulas_but_keeps_numbers(demo):
    result = run_cli(
        "sql",
        """
        select * from (values
            ('=HYPERLINK(''http://example.com'',''x'')', -1.5, '-1.5'),
            ('+1+1', 2.0, '@SUM(A1)'),
            ('-2+3', -3.0, chr(9) || '=1'),
            (chr(13) || '=1', 0.0, 'plain')
        ) as t(meter_id, kwh, note)""",
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.output
    rows = csv_rows(result.output)
    assert rows[0] == ["meter_id", "kwh", "note"]
    assert rows[1:] == [
        ["'=HYPERLINK('http://example.com','x')", "-1.5", "'-1.5"],
        ["'+1+1", "2.0", "'@SUM(A1)"],
        ["'-2+3", "-3.0", "'\t=1"],
        ["'\r=1", "0.0", "plain"],
    ]
    header = run_cli("sql", 'select 1 as "=cmd"', "--format", "csv")
    assert csv_rows(header.output) == [["'=cmd"], ["1"]]
