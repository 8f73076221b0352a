"""``energy``: the local flow on one machine (generate → ingest → build → query)."""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn
from rich.table import Table
from rich.text import Text

from ingest_lambda.errors import EnergyError, FileRejected, UsageError

from .warehouse import NodeProgress, query
from .warehouse import build as build_warehouse
from .warehouse import maintain as maintain_warehouse
from .workspace import Workspace

app = typer.Typer(
    help="Energy analytics lakehouse: interval meter CSVs in, daily consumption, anomalies "
    "and forecasts out. Everything is written under $ENERGY_HOME (default ./workspace).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


class SampleFormat(str, Enum):
    seed = "seed"
    long = "long"


class OutputFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


def _fail(message: str, code: int = 1) -> None:
    err.print(Text.assemble(("error: ", "bold red"), message))  # messages quote file text: never markup
    raise typer.Exit(code)


def command(*args, **kwargs) -> Callable:
    """``app.command``, with the project's errors (EnergyError: bad options, a rejected
    file, a warehouse that cannot answer) told as one line and the error's exit code,
    never a traceback. The one place the commands handle them; anything else is a bug
    and keeps its traceback."""

    def register(function: Callable) -> Callable:
        @functools.wraps(function)  # typer reads the options from the wrapped signature
        def run(*call_args, **call_kwargs):
            try:
                return function(*call_args, **call_kwargs)
            except EnergyError as exc:
                _fail(str(exc), exc.exit_code)

        return app.command(*args, **kwargs)(run)

    return register


@command()
def generate(
    sample_format: Annotated[
        SampleFormat,
        typer.Option("--format", help="seed: timestamp,appliance,kwh hourly; long: meter_id,timestamp,value,unit,interval_minutes"),
    ] = SampleFormat.seed,
    output: Annotated[Path | None, typer.Option(help="CSV to write (default: raw/sample.csv or raw/meters.csv in the workspace)")] = None,
    days: Annotated[int, typer.Option(min=1, help="days of readings")] = 30,
    meters: Annotated[int, typer.Option(min=1, help="meters (long format)")] = 10,
    interval_minutes: Annotated[int, typer.Option(min=1, help="interval length (long format)")] = 15,
    seed: Annotated[int, typer.Option(help="random seed: the same seed writes the same bytes")] = 42,
) -> None:
    """Write deterministic sample readings, with a labels file of the injected anomalies."""
    from sampledata.generator import generate_long_format, generate_seed_format

    workspace = Workspace.current().ensure()
    if sample_format is SampleFormat.seed:
        result = generate_seed_format(output or workspace.raw / "sample.csv", days=days, seed=seed)
    else:
        if 1440 % interval_minutes:
            _fail("--interval-minutes must divide a day (1440 minutes), e.g. 5, 15, 30 or 60", 2)
        result = generate_long_format(
            output or workspace.raw / "meters.csv",
            meters=meters,
            days=days,
            interval_minutes=interval_minutes,
            seed=seed,
        )
    out.print(f"wrote {result.rows:,} readings to {result.data_path}")
    out.print(f"wrote {result.anomalies:,} injected anomalies to {result.labels_path}")


def _report_table(reports: list) -> Table:
    # Text from a file (names, headers, cells quoted in messages) is shown literally:
    # Text(), never markup, so a header like "Wert [kWh]" prints as written.
    table = Table(title="ingest", show_lines=False)
    for column in ("file", "outcome", "rows in", "landed", "quarantined", "detail"):
        table.add_column(column, justify="right" if column in ("rows in", "landed", "quarantined") else "left")
    for report in reports:
        colour = {"accepted": "green", "already_ingested": "cyan", "rejected": "red"}[report.outcome]
        detail = report.message
        if report.readings_missing:
            detail += f"; {report.readings_missing:,} missing readings (placeholders) landed as missing"
        if report.outcome == "accepted" and report.reasons:
            detail += "\n" + "\n".join(f"{n} × {reason}" for reason, n in list(report.reasons.items())[:5])
        # refused before its rows were read (layout, dialect): no row counts to give
        unread = report.outcome == "rejected" and not report.rows_in
        counts = ["not read", "", ""] if unread else [f"{report.rows_in:,}", f"{report.rows_landed:,}", f"{report.rows_quarantined:,}"]
        table.add_row(Text(report.source_key), Text(report.outcome, style=colour), *counts, Text(detail))
    return table


def _dialect_table(record: dict, title: str) -> Table:
    """What detection decided about a file (ingest_lambda.detect), shown literally."""
    from ingest_lambda.detect import dialect_summary

    table = Table(title=Text(title), show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("detected")
    for label, text in dialect_summary(record):
        table.add_row(label, Text(text))
    return table


@dataclass(frozen=True)
class _Staged:
    file: Path  # as given on the command line
    key: str  # where it is in the workspace, as an S3 upload would be: raw/...
    copy: Path  # the private copy that is hashed and read
    sha256: str


def _stage_in_raw(workspace: Workspace, file: Path, private: Path) -> _Staged:
    """Copy an upload into ``private`` while hashing it (one read, so the ingest id and
    the rows come from the same bytes) and give it a key in raw/ that never replaces a
    different file: its own path when it is already in the workspace, else raw/<name>,
    or raw/<stem>-<hash><suffix> when raw/<name> holds other bytes. The raw/ file is a
    hard link to the copy, made only where no file is (so concurrent commands cannot
    overwrite each other)."""
    source = file.resolve()
    handle, name = tempfile.mkstemp(dir=private, prefix="upload-")
    digest = hashlib.sha256()
    with os.fdopen(handle, "wb") as out, source.open("rb") as stream:
        while chunk := stream.read(8 << 20):
            digest.update(chunk)
            out.write(chunk)
    copy, sha = Path(name), digest.hexdigest()
    try:
        return _Staged(file, str(source.relative_to(workspace.home)), copy, sha)
    except ValueError:
        pass
    base, gz = (source.name[:-3], ".gz") if source.name.endswith(".gz") else (source.name, "")
    for target in (workspace.raw / source.name, workspace.raw / f"{Path(base).stem}-{sha[:12]}{Path(base).suffix}{gz}"):
        try:
            _link_new(copy, target)
        except FileExistsError:
            if _sha256_of(target) != sha:
                continue
        return _Staged(file, f"raw/{target.name}", copy, sha)
    raise UsageError(f"{file}: raw/ already holds other files under its names; move them away and try again")


def _link_new(copy: Path, target: Path) -> None:
    """``target`` as a new name of ``copy``; FileExistsError when something is there."""
    try:
        os.link(copy, target)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: an exclusive create, then a copy
        with copy.open("rb") as source, target.open("xb") as out:
            shutil.copyfileobj(source, out, 8 << 20)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _refuse_repeats(staged: list[_Staged]) -> None:
    first: dict[str, _Staged] = {}
    for item in staged:
        if item.key in first:
            raise UsageError(f"{first[item.key].file} and {item.file} are the same upload (both are {item.key}): give each file once")
        first[item.key] = item


def _reading_options(workspace: Workspace, sources: Path | None, column: list[str] | None, quality_code: list[str] | None, **given):
    """The source configuration and the command line's options for it (None: not given).
    Raises UsageError for options that cannot work."""
    from ingest_lambda.options import parse_column_map, parse_quality_codes
    from ingest_lambda.sources import SourceConfig

    overrides = dict(given)
    if overrides.get("delimiter") in ("\\t", "tab"):
        overrides["delimiter"] = "\t"
    if column:
        overrides["column_map"] = parse_column_map(column)
    if quality_code:
        overrides["quality_codes"] = parse_quality_codes(quality_code)
    default_sources = workspace.home / "sources.json"
    config = SourceConfig.load(str(sources or default_sources) if (sources or default_sources.exists()) else None)
    config.options_for("", overrides)  # refuse bad options before anything is read
    return config, overrides


# Options of how a file is read, shared by `ingest` and `inspect` (the same names as the
# source configuration's keys).
TimezoneOpt = Annotated[str | None, typer.Option(help="IANA timezone of naive timestamps and of the meters' local days [default: UTC]")]
UnitOpt = Annotated[str | None, typer.Option(help="unit of the values when the file has no unit column: Wh, kWh, MWh, kW (average power)")]
MeterIdOpt = Annotated[str | None, typer.Option(help="meter id for files without a meter column")]
IntervalOpt = Annotated[int | None, typer.Option(help="interval length when the file has none (otherwise inferred per meter)")]
RegisterOpt = Annotated[
    bool | None, typer.Option("--register/--no-register", help="values are cumulative register reads: differences become interval energy")
]
ColumnOpt = Annotated[
    list[str] | None,
    typer.Option(
        help="map a column: ROLE=HEADER or ROLE=#POSITION; roles: meter_id, timestamp, date, time, hour, end_time, value, import, export, unit, interval_minutes, quality, flow"
    ),
]
QualityCodeOpt = Annotated[
    list[str] | None,
    typer.Option(help="what a quality code of the file means: CODE=measured, estimated or missing, e.g. W=measured (repeatable)"),
]
TimestampFormatOpt = Annotated[str | None, typer.Option(help="strptime format for timestamps detection cannot read, e.g. '%d/%m/%Y %H:%M'")]
SourcesOpt = Annotated[
    Path | None,
    typer.Option(help="source configuration (JSON) with options per raw/ prefix [default: $ENERGY_HOME/sources.json if present]"),
]
ConventionOpt = Annotated[
    str | None, typer.Option(help="auto, beginning or ending: do timestamps mark the start or the END of each interval [default: auto]")
]
FlowOpt = Annotated[
    str | None, typer.Option(help="import, export, or net (signed values: positive import, negative export) [default: import]")
]
DateOrderOpt = Annotated[str | None, typer.Option(help="dmy, mdy or ymd, when the dates cannot tell (e.g. only 02/09/2024-style dates)")]
DecimalMarkOpt = Annotated[str | None, typer.Option(help="'.' or ',', when the numbers cannot tell (e.g. only 1.032-style values)")]
DelimiterOpt = Annotated[str | None, typer.Option(help="the CSV delimiter, when detection cannot find it ('\\t' for tab)")]
MaxBadRowsOpt = Annotated[
    float | None, typer.Option(help="reject the whole file when more than this share of rows fails the row rules [default: 0.25]")
]
MaxKwOpt = Annotated[float | None, typer.Option(help="plausibility cap: average power over an interval, in kW [default: 10000]")]


@command()
def ingest(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV files (optionally .gz) to ingest")],
    timezone: TimezoneOpt = None,
    unit: UnitOpt = None,
    meter_id: MeterIdOpt = None,
    interval_minutes: IntervalOpt = None,
    register: RegisterOpt = None,
    column: ColumnOpt = None,
    quality_code: QualityCodeOpt = None,
    timestamp_format: TimestampFormatOpt = None,
    max_bad_rows: MaxBadRowsOpt = None,
    sources: SourcesOpt = None,
    interval_convention: ConventionOpt = None,
    flow: FlowOpt = None,
    date_order: DateOrderOpt = None,
    decimal_mark: DecimalMarkOpt = None,
    delimiter: DelimiterOpt = None,
    max_kw: MaxKwOpt = None,
) -> None:
    """Validate uploads with the Great Expectations suite and land them as Parquet.

    Options given here win over the source configuration. Exit 0 when every file was
    accepted, 1 when any was rejected (nothing of it landed), 2 for a usage error.
    """
    from ingest_lambda.parse import Upload
    from ingest_lambda.pipeline import ingest_upload
    from ingest_lambda.storage import Lakehouse

    workspace = Workspace.current().ensure()
    # private copies of the uploads, deleted when the command ends
    incoming = tempfile.TemporaryDirectory(prefix=".incoming-", dir=workspace.raw, ignore_cleanup_errors=True)
    try:
        config, overrides = _reading_options(
            workspace,
            sources,
            column,
            quality_code,
            timezone=timezone,
            unit=unit,
            meter_id=meter_id,
            interval_minutes=interval_minutes,
            register=register,
            timestamp_format=timestamp_format,
            max_bad_row_share=max_bad_rows,
            interval_convention=interval_convention,
            flow=flow,
            date_order=date_order,
            decimal_mark=decimal_mark,
            delimiter=delimiter,
            max_kw=max_kw,
        )
        staged = [_stage_in_raw(workspace, file, Path(incoming.name)) for file in files]
        _refuse_repeats(staged)
        plans = [(item, config.options_for(item.key, overrides)) for item in staged]
    except UsageError:
        incoming.cleanup()
        raise
    lakehouse = Lakehouse.local(str(workspace.home))
    reports = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=out,
        transient=True,
    ) as progress:
        for number, (item, options) in enumerate(plans, 1):
            key = item.key
            task = progress.add_task(f"{number}/{len(plans)} {key}", total=None)

            def advance(done: int, total: int, task=task) -> None:
                progress.update(task, completed=done, total=total)

            upload = Upload(path=item.copy, digest=item.sha256)
            reports.append(ingest_upload(upload, key, lakehouse, options, progress=advance))
            progress.update(task, completed=progress.tasks[-1].total or 0)
    incoming.cleanup()
    out.print(_report_table(reports))
    for report in reports:
        if report.dialect and report.outcome != "already_ingested":
            out.print(_dialect_table(report.dialect, f"detected in {report.source_key}"))
    out.print("validation reports: `energy docs` renders them; `energy status` lists recent ingests")
    rejected = [r for r in reports if r.outcome == "rejected"]
    for report in rejected:
        err.print(Text.assemble(("rejected ", "bold red"), f"{report.source_key}: {report.message}"))
        err.print(Text(f"  the file is kept in {report.quarantine_object}"))
    if rejected:
        raise typer.Exit(1)


@command()
def inspect(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV file (optionally .gz) to look at")],
    timezone: TimezoneOpt = None,
    unit: UnitOpt = None,
    meter_id: MeterIdOpt = None,
    interval_minutes: IntervalOpt = None,
    register: RegisterOpt = None,
    column: ColumnOpt = None,
    quality_code: QualityCodeOpt = None,
    timestamp_format: TimestampFormatOpt = None,
    interval_convention: ConventionOpt = None,
    flow: FlowOpt = None,
    date_order: DateOrderOpt = None,
    decimal_mark: DecimalMarkOpt = None,
    delimiter: DelimiterOpt = None,
    max_bad_rows: MaxBadRowsOpt = None,
    max_kw: MaxKwOpt = None,
    rows: Annotated[int, typer.Option(min=1, max=1000, help="how many readings to show")] = 10,
    sources: SourcesOpt = None,
) -> None:
    """Show what an ingest would detect in FILE and its first readings as they would
    land, then ingest the whole file into a throwaway lake to give the ingest's own
    verdict (rows landed and quarantined, or why it is rejected), landing nothing in the
    workspace. Exit 1 when the file would be refused or rejected."""
    from ingest_lambda.inspect import dry_run, inspect_file

    workspace = Workspace.current()
    key = f"raw/{file.name}"
    config, overrides = _reading_options(
        workspace,
        sources,
        column,
        quality_code,
        timezone=timezone,
        unit=unit,
        meter_id=meter_id,
        interval_minutes=interval_minutes,
        register=register,
        timestamp_format=timestamp_format,
        interval_convention=interval_convention,
        flow=flow,
        date_order=date_order,
        decimal_mark=decimal_mark,
        delimiter=delimiter,
        max_bad_row_share=max_bad_rows,
        max_kw=max_kw,
    )
    options = config.options_for(key, overrides)
    try:
        result = inspect_file(file, options, key, rows)
    except FileRejected as rejected:
        err.print(Text.assemble(("would be rejected: ", "bold red"), rejected.reason))
        raise typer.Exit(1) from None
    out.print(_dialect_table(result.dialect, f"detected in {file.name}"))
    table = Table(title="first readings as they would land (nothing is landed)", box=box.SIMPLE, padding=(0, 1))
    for name in result.readings.column_names:
        table.add_column(
            name,
            justify="right" if name in ("row", "minutes", "kWh") else "left",
            no_wrap=name not in ("meter", "problem"),
            overflow="fold",
            min_width={"meter": 12, "problem": 20}.get(name),
        )
    for row in result.readings.to_pylist():
        table.add_row(*[Text("" if v is None else (f"{v:g}" if isinstance(v, float) else str(v))) for v in row.values()])
    out.print(table)
    # The preview reads the first block only; the verdict needs every row, as the
    # ingest's limit on bad rows (max_bad_row_share) is about the whole file.
    report = dry_run(file, options, key)
    if not report.accepted:
        err.print(Text.assemble(("would be rejected: ", "bold red"), report.message))
        raise typer.Exit(1)
    verdict = f"would land {report.rows_landed:,} of {report.rows_in:,} rows"
    if report.rows_quarantined:
        top = ", ".join(f"{reason} ({n:,})" for reason, n in list(report.reasons.items())[:3])
        verdict += f"; would quarantine {report.rows_quarantined:,} ({top})"
    out.print(Text.assemble(("whole file: ", "bold"), verdict))


def _print_build(result) -> None:
    if result.rebuilt_for_schema_change:
        out.print("[yellow]the warehouse was built by an older version of the models: rebuilt in full[/]")
    if result.rebuilt_for_settings:
        out.print(
            Text.assemble(("the incremental tables were built ", "yellow"), result.rebuilt_for_settings, (": rebuilt in full", "yellow"))
        )
    summary = ", ".join(f"{n} {status}" for status, n in sorted(result.counts.items()))
    out.print(f"dbt build: {summary or 'nothing to do'}")
    if result.failures:
        table = Table(title=f"{len(result.failures)} failed", title_style="bold red", show_lines=True)
        for column in ("what", "kind", "problem", "query to inspect"):
            table.add_column(column)
        for failure in result.failures:
            problem = failure.message
            if failure.failing_rows:
                problem = f"{failure.failing_rows:,} rows break this rule"
            table.add_row(Text(failure.name), failure.kind, Text(problem), Text(failure.compiled_sql or ""))
        err.print(table)
        err.print("a failed test names the rule and its table; run its query with `energy sql -f FILE` to see the rows")


class Target(str, Enum):
    duckdb = "duckdb"
    trino = "trino"
    athena = "athena"


@command()
def build(
    target: Annotated[
        Target,
        typer.Option(
            help="duckdb: the local warehouse file; trino: the server at TRINO_HOST:TRINO_PORT "
            "(start one with trino/server.sh start); athena: AWS, configured by ATHENA_* variables"
        ),
    ] = Target.duckdb,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="rebuild incremental models from scratch")] = False,
) -> None:
    """Run `dbt build` (models and their tests) on the warehouse."""
    workspace = Workspace.current().ensure()
    with Progress(
        TextColumn("dbt build on " + target.value),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=out,
        transient=True,
    ) as progress:
        task = progress.add_task("starting", total=None)

        def show(step: NodeProgress) -> None:
            progress.update(task, completed=step.done, total=step.total or None, description=step.running)

        result = build_warehouse(workspace, target.value, full_refresh, on_progress=show)
    _print_build(result)
    if not result.success:
        raise typer.Exit(1)


@command()
def maintain(
    target: Annotated[Target, typer.Option(help="the warehouse to maintain (as for build)")] = Target.duckdb,
    retention_days: Annotated[int, typer.Option(min=7, help="keep table snapshots this many days (Trino's floor is 7)")] = 7,
) -> None:
    """Compact the incremental tables' small files and expire old snapshots (Iceberg on
    Trino and Athena; nothing to do on DuckDB). The dbt runner does it weekly in AWS;
    run it between builds, never during one."""
    workspace = Workspace.current().ensure()
    with Progress(TextColumn(f"table maintenance on {target.value}"), TimeElapsedColumn(), console=out, transient=True) as progress:
        progress.add_task("maintain", total=None)
        maintain_warehouse(workspace, target.value, retention_days)
    out.print(
        "table maintenance on duckdb: nothing to do (one file, rewritten in place)"
        if target is Target.duckdb
        else f"table maintenance on {target.value}: done"
    )


# A spreadsheet reads a cell that starts with one of these as a formula (OWASP, "CSV
# injection"); a meter id or file name from an upload can start with any of them.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value, numeric: bool = False):
    """A value as a CSV cell a spreadsheet opens as data: text that would start a
    formula gets a leading single quote; a numeric column's values stay as they are
    (-1.5 is data)."""
    if value is None:
        return ""
    if isinstance(value, float):
        # 15 significant digits (DBL_DIG): every digit a double carries faithfully, so a
        # sum such as 0.1 + 0.2 prints 0.3, not its binary noise 0.30000000000000004
        return f"{value:.15g}"
    if numeric:
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _is_numeric(data_type: pa.DataType) -> bool:
    return pa.types.is_integer(data_type) or pa.types.is_floating(data_type) or pa.types.is_decimal(data_type)


class _UnixLines:
    """Rows written with a CRLF terminator, so that the csv module quotes a cell holding a
    CR as well as one holding an LF (it quotes only the terminator's characters), and
    printed with LF as before."""

    def write(self, line: str) -> None:
        sys.stdout.write(line[:-2] + "\n" if line.endswith("\r\n") else line)


def _print_arrow(table: pa.Table, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.csv:
        writer = csv.writer(_UnixLines(), lineterminator="\r\n")
        writer.writerow([_csv_cell(name) for name in table.column_names])
        numeric = [_is_numeric(field.type) for field in table.schema]
        for row in zip(*(column.to_pylist() for column in table.columns)):
            writer.writerow([_csv_cell(v, is_number) for v, is_number in zip(row, numeric)])
    elif fmt is OutputFormat.json:
        sys.stdout.write(json.dumps(table.to_pylist(), default=str, indent=2) + "\n")
    else:
        rich_table = Table(show_lines=False)
        for name in table.column_names:
            rich_table.add_column(name)
        for row in table.to_pylist():
            rich_table.add_row(*[Text("" if v is None else (f"{v:,.3f}" if isinstance(v, float) else str(v))) for v in row.values()])
        out.print(rich_table)


@command()
def sql(
    statement: Annotated[str | None, typer.Argument(help='SQL to run, e.g. "select * from rpt_summary"')] = None,
    file: Annotated[Path | None, typer.Option("-f", "--file", exists=True, dir_okay=False, help="read the SQL from a file")] = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="table, csv or json")] = OutputFormat.table,
) -> None:
    """Run a read-only query on the warehouse and print the result."""
    if (statement is None) == (file is None):
        _fail("give either a SQL statement or -f FILE", 2)
    text = statement if statement is not None else file.read_text()
    result = query(Workspace.current(), text)
    _print_arrow(result, output_format)


def _print_summary(workspace: Workspace) -> None:
    summary = query(
        workspace,
        "select * from rpt_summary order by scope = 'all' desc, meter_id",
    ).to_pylist()
    forecast = query(
        workspace,
        "select forecast_date, sum(forecast_kwh) forecast_kwh, sum(lower_kwh) lower_kwh, "
        "sum(upper_kwh) upper_kwh from fct_forecast where is_selected group by 1 order by 1",
    ).to_pylist()
    table = Table(title="consumption summary")
    for column in ("meter", "days", "total kWh", "daily avg kWh", "anomalies (readings / days)", "next 7 days kWh [bounds]"):
        table.add_column(column, justify="left" if column == "meter" else "right")
    for row in summary:
        table.add_row(
            "all meters" if row["scope"] == "all" else Text(row["meter_id"]),
            str(row["days"]),
            f"{row['total_kwh']:,.1f}",
            f"{row['daily_average_kwh']:,.2f}",
            f"{row['reading_anomalies']} / {row['daily_anomalies']}",
            f"{row['forecast_7d_kwh']:,.1f} [{row['forecast_7d_lower_kwh']:,.1f} – {row['forecast_7d_upper_kwh']:,.1f}]",
        )
    out.print(table)
    days = Table(title="7-day forecast, all meters (each meter's selected method)")
    for column in ("date", "forecast kWh", "lower", "upper"):
        days.add_column(column, justify="right")
    for row in forecast:
        days.add_row(str(row["forecast_date"]), f"{row['forecast_kwh']:,.1f}", f"{row['lower_kwh']:,.1f}", f"{row['upper_kwh']:,.1f}")
    out.print(days)


@command()
def demo() -> None:
    """Generate the seed-format sample, ingest it, build, and print the summary."""
    from ingest_lambda.pipeline import ingest_file
    from ingest_lambda.storage import Lakehouse
    from sampledata.generator import generate_seed_format

    workspace = Workspace.current().ensure()
    sample = generate_seed_format(workspace.raw / "sample.csv")
    out.print(f"1/3 generated {sample.rows:,} readings → {sample.data_path}")
    with out.status("2/3 ingesting (Great Expectations validation)…"):
        report = ingest_file(sample.data_path, "raw/sample.csv", Lakehouse.local(str(workspace.home)))
    if not report.accepted:
        _fail(f"the sample was rejected: {report.message}")
    out.print(f"2/3 ingest {report.outcome}: {report.message}")
    with out.status("3/3 dbt build…"):
        result = build_warehouse(workspace)
    _print_build(result)
    if not result.success:
        raise typer.Exit(1)
    _print_summary(workspace)
    from .report import write_report

    report_path = write_report(workspace)
    out.print("written:")
    for label, path in (
        ("raw upload", sample.data_path),
        ("anomaly labels", sample.labels_path),
        ("lake (Parquet)", workspace.lake / "readings"),
        ("data-quality records", workspace.dq),
        ("warehouse (DuckDB)", workspace.warehouse),
        ("report (open it in a browser)", report_path),
    ):
        out.print(f"  {label:<30} {path}")
    out.print('query it: energy sql "select * from fct_daily_anomalies where is_anomaly"')


@command()
def report(
    output: Annotated[Path | None, typer.Option(help="HTML file to write [default: reports/report.html in the workspace]")] = None,
    max_meters: Annotated[int, typer.Option(min=0, help="draw charts for this many of the largest meters (tables list them all)")] = 12,
) -> None:
    """Write the HTML report (one file, opens offline).

    Daily consumption with anomalies marked, the 7-day forecast with its band, the
    largest anomalies, forecast accuracy per method and the data-quality summary."""
    from .report import ReportOptions, write_report

    workspace = Workspace.current().ensure()
    path = write_report(workspace, output, ReportOptions(max_meters=max_meters))
    out.print(f"report: {path}")


@command()
def docs(
    serve: Annotated[
        bool, typer.Option("--serve", help="then serve both sites and the report (nothing else) on http://127.0.0.1:PORT until Ctrl-C")
    ] = False,
    port: Annotated[int, typer.Option(min=1, max=65535, help="port for --serve")] = 8000,
) -> None:
    """Build the dbt lineage site and the validation reports; --serve serves them.

    Both are static and open offline: the dbt docs as one HTML file in reports/docs/,
    the Great Expectations Data Docs in dq/data_docs/."""
    from .docs import build_docs
    from .docs import serve as serve_workspace

    workspace = Workspace.current().ensure()
    with out.status("building the lineage site and the validation reports…"):
        sites = build_docs(workspace)
    out.print(f"lineage (dbt docs): {sites.lineage}")
    out.print(f"validation reports (Great Expectations): {sites.data_docs}")
    if serve:
        try:
            server = serve_workspace(workspace, port)
        except OSError as exc:
            _fail(f"cannot serve on port {port}: {exc.strerror}; pick another with --port")
        base = f"http://127.0.0.1:{server.port}"
        out.print(f"serving the two sites and the report (nothing else of {workspace.home}) on {base} (Ctrl-C stops)")
        for label, path in (
            ("lineage", sites.lineage),
            ("validation reports", sites.data_docs),
            ("report", workspace.reports / "report.html"),
        ):
            out.print(f"  {label:<20} {base}/{path.relative_to(workspace.home).as_posix()}")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()


@command()
def status(
    recent: Annotated[int, typer.Option(min=1, help="how many recent ingests and failures to list")] = 10,
) -> None:
    """Show the lake's contents, recent ingests and the latest data-quality failures."""
    from .status import lake_status

    workspace = Workspace.current().ensure()
    state = lake_status(workspace, recent)
    totals = state.ingest_totals
    out.print(f"[bold]workspace[/] {workspace.home}")
    if state.objects:
        out.print(
            f"[bold]lake[/] {state.readings:,} readings from {state.meters:,} meters in {state.objects:,} objects, "
            f"{state.first_reading} to {state.last_reading} (UTC)"
        )
    else:
        out.print("[bold]lake[/] empty: `energy ingest FILE` lands readings")
    out.print(
        f"[bold]uploads[/] {totals['uploads']:,} ({totals['accepted']:,} accepted, {totals['rejected']:,} rejected"
        + (f", {totals['in_flight']} in flight or interrupted" if totals["in_flight"] else "")
        + "): "
        f"{totals['rows_in']:,} rows in, {totals['rows_landed']:,} landed, {totals['rows_quarantined']:,} quarantined"
    )
    out.print(
        "[bold]warehouse[/] "
        + (f"last built {state.warehouse_built:%Y-%m-%d %H:%M} UTC" if state.warehouse_built else "not built: `energy build`")
    )
    if state.recent_ingests:
        table = Table(title="recent ingests")
        for column in ("when (UTC)", "upload", "outcome", "rows", "landed", "quarantined", "main reason"):
            table.add_column(column, justify="right" if column in ("rows", "landed", "quarantined") else "left")
        for record in state.recent_ingests:
            reasons = sorted(record["reasons"].items(), key=lambda item: -item[1])
            colour = "green" if record["outcome"] == "accepted" else "red"
            # refused before its rows were read (layout, dialect): no row counts to give
            unread = record["outcome"] == "rejected" and not record["rows_in"]
            counts = (
                ["not read", "", ""]
                if unread
                else [f"{record['rows_in']:,}", f"{record['rows_landed']:,}", f"{record['rows_quarantined']:,}"]
            )
            table.add_row(
                record["ingested_at"][:19].replace("T", " "),
                Text(record["source_key"]),
                Text(record["outcome"], style=colour),
                *counts,
                Text((f"{reasons[0][0]} ({reasons[0][1]:,})" if reasons[0][1] else reasons[0][0]) if reasons else ""),
            )
        out.print(table)
    if state.dq_failures:
        table = Table(title="latest data-quality failures")
        for column in ("when (UTC)", "upload", "check", "rows", "reason"):
            table.add_column(column)
        for failure in state.dq_failures:
            table.add_row(
                f"{failure['evaluated_at']:%Y-%m-%d %H:%M}",
                Text(failure["source_key"]),
                failure["expectation"],
                "" if failure["unexpected_count"] is None else f"{failure['unexpected_count']:,}",
                Text(failure["reason"] or ""),
            )
        out.print(table)
    elif totals["uploads"]:
        out.print("no data-quality failures")


def main() -> None:
    """The `energy` command: the app, with the file system's errors (a full disk, a
    folder that is a file, no permission) told as one line naming the path, never as a
    traceback. Every command writes under ENERGY_HOME, so that is what to check."""
    try:
        app()
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        err.print(
            Text.assemble(
                ("error: ", "bold red"),
                f"{exc.strerror or exc}{where}; check that ENERGY_HOME and the files named are writable folders with free space",
            )
        )
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
