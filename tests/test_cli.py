"""The energy command: exit codes, messages a person can act on, and no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import CORPUS, run_cli


def test_ingest_accepted_file_exits_0_and_stages_raw(workspace):
    result = run_cli("ingest", str(CORPUS / "negative_and_absurd_energy.csv"))
    assert result.exit_code == 0, result.output
    assert "accepted" in result.output
    assert (workspace.raw / "negative_and_absurd_energy.csv").read_bytes() == (CORPUS / "negative_and_absurd_energy.csv").read_bytes()
    assert len(list((workspace.lake / "readings").glob("*/*.parquet"))) == 1


def test_ingest_rejected_file_exits_1_with_reason(workspace):
    result = run_cli("ingest", str(CORPUS / "missing_kwh_column.csv"))
    assert result.exit_code == 1
    assert "missing required column" in result.output
    assert "--column" in result.output
    assert not list(workspace.lake.rglob("*.parquet"))


def test_ingest_usage_errors_exit_2(workspace):
    assert run_cli("ingest", str(CORPUS / "gzip_upload.csv.gz"), "--timezone", "Nowhere/City").exit_code == 2
    assert run_cli("ingest", str(CORPUS / "gzip_upload.csv.gz"), "--column", "value").exit_code == 2
    assert run_cli("ingest", "no-such-file.csv").exit_code == 2
    assert run_cli("ingest").exit_code == 2


def test_ingest_options_reach_the_core(workspace):
    result = run_cli(
        "ingest",
        str(CORPUS / "mapped_columns.csv"),
        "--column",
        "timestamp=Zeit",
        "--column",
        "meter_id=Zähler",
        "--column",
        "value=Energie (kWh)",
        "--timezone",
        "Europe/Berlin",
        "--unit",
        "Wh",
    )
    assert result.exit_code == 0, result.output
    import pyarrow.parquet as pq

    table = pq.read_table(next((workspace.lake / "readings").glob("*/*.parquet")))
    assert set(table["timezone"].to_pylist()) == {"Europe/Berlin"}
    assert set(table["kwh"].to_pylist()) == {0.0005}


def test_build_and_sql_without_data_explain_what_to_do(workspace):
    build = run_cli("build")
    assert build.exit_code == 1 and "energy ingest" in build.output
    sql = run_cli("sql", "select 1")
    assert sql.exit_code == 1 and "energy build" in sql.output


def test_sql_formats_on_the_demo(demo_workspace, monkeypatch):
    monkeypatch.setenv("ENERGY_HOME", str(demo_workspace.home))
    csv_out = run_cli("sql", "select count(*) as n from stg_lake__readings", "--format", "csv")
    assert csv_out.exit_code == 0 and csv_out.output.split() == ["n", "2880"]
    # a double's binary noise is not printed; the value round-trips to the same double
    sums = run_cli("sql", "select 0.1::double + 0.2::double as s, 1e-20::double as tiny, -1.5::double as n", "--format", "csv")
    assert sums.exit_code == 0 and sums.output.split() == ["s,tiny,n", "0.3,1e-20,-1.5"]
    json_out = run_cli("sql", "select scope, days from rpt_summary where scope = 'all'", "--format", "json")
    assert '"days": 30' in json_out.output
    table_out = run_cli("sql", "select meter_id from rpt_summary where scope = 'meter' order by 1")
    assert "refrigerator" in table_out.output
    bad = run_cli("sql", "select * from no_such_table")
    assert bad.exit_code == 1 and "query failed" in bad.output
    write = run_cli("sql", "drop table stg_lake__readings")
    assert write.exit_code == 1 and "read-only" in write.output


def test_installed_console_script_reports_without_traceback(tmp_path):
    """The real `energy` executable, as a user runs it."""
    energy = Path(sys.executable).with_name("energy")
    env = {**os.environ, "ENERGY_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [str(energy), "ingest", str(CORPUS / "truncated.csv.gz")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 1
    assert "gzip file is truncated" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_build_summarises_failed_tests(workspace, monkeypatch):
    from energy import cli
    from energy.warehouse import BuildResult, NodeFailure

    failed = BuildResult(
        success=False,
        counts={"pass": 80, "fail": 1},
        failures=[
            NodeFailure(
                "not_null_fct_daily_consumption_total_kwh",
                "test",
                "Got 3 results, configured to fail if != 0",
                failing_rows=3,
                compiled_sql="dbt/target/compiled/not_null.sql",
            ),
        ],
    )
    monkeypatch.setattr(cli, "build_warehouse", lambda *args, **kwargs: failed)
    monkeypatch.setenv("COLUMNS", "200")
    result = run_cli("build")
    assert result.exit_code == 1
    assert "1 failed" in result.output
    assert "not_null_fct_daily_consumption_total_kwh" in result.output
    assert "3 rows break this rule" in result.output
    assert "energy sql -f FILE" in result.output


FIELD = Path(__file__).with_name("field")


def test_file_text_is_printed_literally_and_the_dialect_is_shown(workspace):
    path = FIELD / "14_bracketed_units" / "bracketed_unit_headers.csv"
    result = run_cli("ingest", str(path), "--timezone", "Europe/Berlin")
    assert result.exit_code == 0, result.output
    assert "Netzbezug [kWh]" in result.output and "Hausverbrauch [kWh]" in result.output
    assert "wide by meter" in result.output and "interval convention" in result.output
    # a refusal quoting a header with brackets keeps them too
    refused = run_cli("ingest", str(path), "--column", "value=Wert [Wh]")
    assert refused.exit_code == 1
    assert "'Wert [Wh]'" in refused.output


def test_inspect_lands_nothing_and_names_the_option_when_refusing(workspace):
    preamble = FIELD / "01_utility_download_preamble" / "usage_15min.csv"
    result = run_cli("inspect", str(preamble), "--timezone", "America/Los_Angeles", "--rows", "3")
    assert result.exit_code == 0, result.output
    assert "line 6 after 4 preamble lines" in result.output
    assert "2024-01-15" in result.output and "0.12" in result.output
    assert "JORDAN" not in result.output and "CEDAR" not in result.output  # preamble lines are never shown
    assert not list(workspace.lake.rglob("*.parquet"))
    ambiguous = run_cli("inspect", str(CORPUS / "ambiguous_interval_convention.csv"))
    assert ambiguous.exit_code == 1
    assert "--interval-convention" in ambiguous.output


def test_inspect_gives_the_ingest_verdict_on_the_whole_file(workspace):
    """The preview shows the first rows only; the verdict is the ingest's own on every
    row. A net meter read without --flow net has its negative (export) hours fail the
    row rules: more than max_bad_row_share of them, so the ingest would reject it, and
    inspect exits 1 saying so, as ingest would. With the option every row lands."""
    path = FIELD / "11_net_meter_signed" / "net_meter_june.csv"
    values = [float(line.rsplit(",", 1)[1]) for line in path.read_text().splitlines()[1:] if line.strip()]
    negative = sum(v < 0 for v in values)
    assert negative / len(values) > 0.25  # above the default limit
    refused = run_cli("inspect", str(path), "--timezone", "UTC")
    assert refused.exit_code == 1, refused.output
    assert f"{negative} of {len(values)} rows" in refused.output and "would be rejected" in refused.output
    accepted = run_cli("inspect", str(path), "--timezone", "UTC", "--flow", "net")
    assert accepted.exit_code == 0, accepted.output
    assert f"would land {len(values)} of {len(values)} rows" in accepted.output
    # inspect takes the ingest's limits too: with a looser bad-row limit the import-only
    # reading lands its positive hours and would quarantine the negative ones
    looser = run_cli("inspect", str(path), "--timezone", "UTC", "--max-bad-rows", "0.5")
    assert looser.exit_code == 0, looser.output
    assert f"would land {len(values) - negative} of {len(values)} rows" in looser.output
    assert f"would quarantine {negative}" in looser.output
    assert not list(workspace.lake.rglob("*.parquet")) and not list(workspace.quarantine.rglob("*"))


def test_inspect_takes_the_power_cap(workspace, tmp_path):
    """A 20 MW site: 6,000 kWh a quarter hour is above the default cap (10,000 kW) and
    every row would be quarantined; with --max-kw 30000 each lands."""
    path = tmp_path / "smelter.csv"
    path.write_text(
        "meter_id,timestamp,kwh\n"
        + "".join(f"s1,2024-03-04 {h:02d}:{m:02d},{5000 + h * 10 + m / 15:.1f}\n" for h in range(2) for m in (0, 15, 30, 45))
    )
    capped = run_cli("inspect", str(path))
    assert capped.exit_code == 1 and "implausible energy" in capped.output, capped.output
    assert "cap of 10,000 kW" in capped.output.replace("\n", " ")
    # the reason quotes the cap in force, not the default
    lower = run_cli("inspect", str(path), "--max-kw", "20000")
    assert lower.exit_code == 1 and "cap of 20,000 kW" in lower.output.replace("\n", " "), lower.output
    raised = run_cli("inspect", str(path), "--max-kw", "30000")
    assert raised.exit_code == 0, raised.output
    assert "would land 8 of 8 rows" in raised.output


def test_a_preamble_taken_for_a_header_is_never_quoted(workspace, tmp_path):
    """No row holds a date this tool reads: the first line is taken as the header, and
    it may be a customer's name and address, so no message or record repeats it."""
    path = tmp_path / "statement.csv"
    path.write_text(
        "Customer: Jane Doe, 12 Oak Rd, Springfield\nAccount 5550001\n\nWhen,Wert [kWh]\nMar 4 2024 12:00AM,0.5\nMar 4 2024 1:00AM,0.5\n"
    )
    result = run_cli("ingest", str(path))
    assert result.exit_code == 1
    assert "Jane" not in result.output and "Oak" not in result.output
    records = [p.read_text() for p in (workspace.quarantine / "files").rglob("reason.json")]
    records += [p.read_text() for p in (workspace.dq / "ingests").glob("*.json")]
    assert records and not any("Jane" in r or "Oak Rd" in r for r in records)


def test_status_says_a_refused_file_was_not_read(workspace, monkeypatch, tmp_path):
    """A file refused before its rows are read (its interval convention undecidable) has
    no row counts: status says 'not read' rather than 0 rows, beside one rejected for its
    rows, whose counts add up."""
    monkeypatch.setenv("COLUMNS", "200")
    ingest = run_cli("ingest", str(CORPUS / "ambiguous_interval_convention.csv"))
    assert ingest.exit_code == 1
    assert "not read" in next(line for line in ingest.output.splitlines() if "ambiguous_interval" in line)
    net = FIELD / "11_net_meter_signed" / "net_meter_june.csv"
    assert run_cli("ingest", str(net), "--timezone", "UTC").exit_code == 1
    result = run_cli("status")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    refused = next(line for line in lines if "ambiguous_interval_convention" in line)
    assert "not read" in refused
    rejected = next(line for line in lines if "net_meter_june" in line)
    assert "168" in rejected and "not read" not in rejected
    assert "2 (0 accepted, 2 rejected): 168 rows in, 0 landed, 168 quarantined" in result.output


def test_a_file_system_error_is_one_line_naming_the_path(tmp_path):
    """ENERGY_HOME under a file (or a full disk, or no permission): the command says so
    and which path, exit 1, no traceback."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    environment = {**os.environ, "ENERGY_HOME": str(blocker / "home"), "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "energy.cli", "generate", "--days", "1"], capture_output=True, text=True, env=environment, timeout=120
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "ENERGY_HOME" in result.stderr
    assert str(blocker) in result.stderr.replace("\n", "")
