"""The same dbt project on a real Trino server gives the same tables as on DuckDB.

Trino is the engine Athena (engine v3) is built on, so this is how the Athena SQL is
proven here. The server is the one `trino/server.sh start` runs (CI starts it; this
module starts it itself when nothing answers on TRINO_PORT).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

import trino
from energy.trino import parse_data_size
from energy.warehouse import WarehouseError, build, maintain, query, run_dbt
from ingest_lambda.options import IngestOptions
from ingest_lambda.pipeline import ingest_bytes, ingest_file
from sampledata.generator import generate_long_format, generate_seed_format

from .conftest import REPO, defined_unit_tests
from .tables import PUBLIC_TABLES, assert_same_rows, ordered_select, same_value
from .test_flow import NET_METER, net_meter_frame

QUERIES = REPO / "queries"

RELATIVE_TOLERANCE = 1e-9


@pytest.fixture
def trino_target(trino_port, monkeypatch):
    """A schema of its own per test, dropped afterwards."""
    schema = f"energy_test_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("TRINO_PORT", trino_port)
    monkeypatch.setenv("TRINO_SCHEMA", schema)
    connection = trino.dbapi.connect(host="127.0.0.1", port=int(trino_port), user="energy", catalog="iceberg", schema=schema)
    yield connection
    cursor = connection.cursor()
    for catalog, name in (("iceberg", schema), ("hive", f"{schema}_lake")):
        cursor.execute(f"show schemas from {catalog} like '{name}'")
        if cursor.fetchall():
            cursor.execute(f"drop schema {catalog}.{name} cascade")
            cursor.fetchall()
    connection.close()


def trino_rows(connection, table: str) -> list[dict]:
    cursor = connection.cursor()
    cursor.execute(ordered_select(table))
    rows = cursor.fetchall()
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in rows]


def assert_engines_agree(workspace, connection) -> dict[str, int]:
    counts = {}
    for table in PUBLIC_TABLES:
        on_duckdb = query(workspace, ordered_select(table)).to_pylist()
        assert on_duckdb, f"{table} is empty: the comparison would prove nothing"
        assert_same_rows(table, on_duckdb, trino_rows(connection, table), RELATIVE_TOLERANCE)
        counts[table] = len(on_duckdb)
    return counts


def test_trino_builds_the_same_tables_as_duckdb(workspace, lakehouse, tmp_path, trino_target):
    # The demo's seed-format file, plus 15-minute meters in a DST zone across the spring
    # change (a 23-hour day) and a day count that gives forecasts and a backtest.
    seed = generate_seed_format(tmp_path / "sample.csv", days=30)
    ingest_file(seed.data_path, "raw/sample.csv", lakehouse, now=dt.datetime(2024, 2, 1, tzinfo=dt.UTC))
    berlin = generate_long_format(tmp_path / "berlin.csv", meters=3, days=45, interval_minutes=15, seed=11, start=dt.datetime(2024, 3, 1))
    ingest_file(
        berlin.data_path, "raw/berlin.csv", lakehouse, IngestOptions(timezone="Europe/Berlin"), now=dt.datetime(2024, 4, 16, tzinfo=dt.UTC)
    )
    # A net meter (import and export, --flow net), then a correction of six hours as
    # estimates (quality code E) and of one as missing.
    # (January's file only: June's readings would be in the future of this upload's day,
    # which must come before the later uploads below.)
    january = NET_METER / "net_meter_january.csv"
    ingest_file(january, f"raw/{january.name}", lakehouse, IngestOptions(flow="net"), now=dt.datetime(2024, 4, 16, 12, tzinfo=dt.UTC))
    frame = net_meter_frame()
    corrected = (
        "meter_id,timestamp,kwh,quality\n"
        + "".join(
            f"{m},{t:%Y-%m-%d %H:%M},{v},E\n" for m, t, v in frame.iloc[30:36][["meter_id", "timestamp", "kwh"]].itertuples(index=False)
        )
        + "".join(f"{m},{t:%Y-%m-%d %H:%M},,missing\n" for m, t in frame.iloc[40:41][["meter_id", "timestamp"]].itertuples(index=False))
    )
    report = ingest_bytes(
        corrected.encode(),
        "raw/solar-corrections.csv",
        lakehouse,
        IngestOptions(flow="net", interval_minutes=60, interval_convention="beginning"),
        now=dt.datetime(2024, 4, 16, 13, tzinfo=dt.UTC),
    )
    assert report.rows_landed == 7 and report.readings_missing == 1, report.message

    assert build(workspace).success
    trino_build = build(workspace, target="trino")
    assert trino_build.success, trino_build.failures
    # every data test of the project ran on Trino too, and passed
    manifest = json.loads((workspace.dbt_artifacts / "target" / "manifest.json").read_text())
    data_tests = sum(node["resource_type"] == "test" for node in manifest["nodes"].values())
    assert data_tests >= 40 and trino_build.counts.get("pass", 0) == data_tests
    counts = assert_engines_agree(workspace, trino_target)
    # 45 UTC days are 46 local days in Berlin (the first and last are partial); the net
    # meter has 7 days
    assert counts["fct_daily_consumption"] == 4 * 30 + 3 * 46 + 7
    # the comparison covered the export series, the estimates and the gap
    for table, condition in [
        ("stg_lake__readings", "quality = 'missing'"),
        ("stg_lake__readings", "quality = 'estimated'"),
        ("fct_daily_anomalies", "flow = 'export'"),
        ("fct_forecast", "flow = 'export'"),
        ("fct_daily_consumption", "export_kwh > 0"),
    ]:
        found = query(workspace, f"select count(*) as n from {table} where {condition}").column("n")[0].as_py()
        assert found > 0, (table, condition)
    dst_days = query(workspace, "select count(*) as n from fct_daily_consumption where day_minutes = 1380")
    assert dst_days.column("n")[0].as_py() == 3

    # The analysts' queries (deployed as Athena saved queries) give the same answers.
    for path in sorted(QUERIES.glob("*.sql")):
        sql = path.read_text().strip().rstrip(";")
        on_duckdb = [tuple(row.values()) for row in query(workspace, sql).to_pylist()]
        cursor = trino_target.cursor()
        cursor.execute(sql)
        on_trino = [tuple(row) for row in cursor.fetchall()]
        assert len(on_duckdb) == len(on_trino), path.name
        for row_duckdb, row_trino in zip(sorted(on_duckdb, key=repr), sorted(on_trino, key=repr)):
            assert all(same_value(a, b, RELATIVE_TOLERANCE) for a, b in zip(row_duckdb, row_trino)), (path.name, row_duckdb, row_trino)

    # One more day and a corrected reading: both engines build
    # incrementally and still agree.
    next_day = "meter_id,timestamp,value\n" + "".join(
        f"meter-000{m},2024-04-15T{h:02d}:00:00Z,{0.5 + m + h / 10}\n" for m in (1, 2, 3) for h in range(24)
    )
    ingest_bytes(
        next_day.encode(), "raw/next.csv", lakehouse, IngestOptions(timezone="Europe/Berlin"), now=dt.datetime(2024, 4, 17, tzinfo=dt.UTC)
    )
    # 99.5 kWh in a quarter hour (398 kW): a file without a unit is refused at that
    # size unless it says kWh
    fix = ingest_bytes(
        b"meter_id,timestamp,value\nmeter-0002,2024-04-10T08:00:00Z,99.5\n",
        "raw/fix.csv",
        lakehouse,
        IngestOptions(timezone="Europe/Berlin", interval_minutes=15, unit="kWh"),
        now=dt.datetime(2024, 4, 17, 1, tzinfo=dt.UTC),
    )
    assert fix.outcome == "accepted", fix.message
    assert build(workspace).success
    assert build(workspace, target="trino").success
    assert_engines_agree(workspace, trino_target)

    cursor = trino_target.cursor()
    cursor.execute(
        "select kwh, source_key from stg_lake__readings where meter_id = 'meter-0002' and reading_start = timestamp '2024-04-10 08:00:00'"
    )
    assert cursor.fetchall() == [[99.5, "raw/fix.csv"]]
    # The lake's files are untouched by the external tables being re-created.
    assert len(list((workspace.home / "lake" / "readings").glob("*/*.parquet"))) == 6


@pytest.mark.parametrize(
    "variables",
    [
        {"anomaly_window": "trailing", "anomaly_method": "iqr"},
        {"anomaly_window": "centered", "anomaly_method": "iqr"},
        {"anomaly_window": "trailing", "anomaly_method": "zscore"},
        {"anomaly_window": "centered", "anomaly_method": "zscore"},
        {"anomaly_window": "trailing", "anomaly_method": "robust"},
        {"anomaly_window": "trailing", "anomaly_method": "robust", "anomaly_daily_same_weekday": True},
    ],
    ids=["trailing-iqr", "centered-iqr", "trailing-zscore", "centered-zscore", "trailing-robust", "robust-same-weekday"],
)
def test_every_anomaly_method_flags_the_same_readings_on_both_engines(workspace, lakehouse, tmp_path, trino_target, variables):
    """Exact quantiles on Trino (from ranks) and DuckDB (quantile_cont, windows or
    joins): the same baselines and flags in every mode, across the autumn change (the
    repeated hour's second readings are scored and enter no baseline on both)."""
    autumn = generate_long_format(
        tmp_path / "autumn.csv", meters=2, days=35, interval_minutes=15, seed=13, spike_share=0.02, start=dt.datetime(2024, 10, 5)
    )
    ingest_file(
        autumn.data_path, "raw/autumn.csv", lakehouse, IngestOptions(timezone="Europe/Berlin"), now=dt.datetime(2024, 11, 10, tzinfo=dt.UTC)
    )
    command = ["build", "--select", "+fct_reading_anomalies", "+fct_daily_anomalies", "--resource-type", "model", "--resource-type", "seed"]
    command += ["--vars", json.dumps(variables)]
    assert run_dbt(workspace, command).success
    on_trino = run_dbt(workspace, command, "trino")
    assert on_trino.success, on_trino.failures
    for table in ("fct_reading_anomalies", "fct_daily_anomalies"):
        on_duckdb = query(workspace, ordered_select(table)).to_pylist()
        assert table != "fct_reading_anomalies" or sum(row["is_anomaly"] for row in on_duckdb) > 0
        assert_same_rows(table, on_duckdb, trino_rows(trino_target, table), RELATIVE_TOLERANCE)


def test_trino_incremental_build_equals_its_full_refresh(workspace, lakehouse, tmp_path, trino_target):
    history = generate_long_format(tmp_path / "history.csv", meters=2, days=30, interval_minutes=60, seed=5)
    ingest_file(history.data_path, "raw/history.csv", lakehouse, now=dt.datetime(2024, 2, 1, tzinfo=dt.UTC))
    assert build(workspace, target="trino").success
    more = "meter_id,timestamp,value\n" + "".join(f"meter-000{m},2024-01-31T{h:02d}:00:00Z,{1 + m}\n" for m in (1, 2) for h in range(24))
    ingest_bytes(more.encode(), "raw/more.csv", lakehouse, now=dt.datetime(2024, 2, 2, tzinfo=dt.UTC))
    assert build(workspace, target="trino").success
    incremental = {table: trino_rows(trino_target, table) for table in PUBLIC_TABLES}
    # The weekly maintenance compacts the files the incremental build left (its deletes
    # wrote delete files) and changes no row.
    incremental_tables = [
        "stg_lake__readings",
        "int_readings_scored",
        "int_readings_aggregated_to_days",
        "int_days_aggregated_to_meters",
        "int_forecast_origins",
        "int_forecast_errors",
        "int_forecast_bands",
        "fct_forecast_accuracy",
    ]
    files_before = {table: table_files(trino_target, table) for table in incremental_tables}
    assert sum(files["deletes"] for files in files_before.values()) > 0
    maintain(workspace, target="trino")
    files_after = {table: table_files(trino_target, table) for table in incremental_tables}
    assert all(files["deletes"] == 0 for files in files_after.values()), files_after
    assert sum(f["data"] for f in files_after.values()) < sum(f["data"] for f in files_before.values())
    for table in PUBLIC_TABLES:
        assert_same_rows(table, incremental[table], trino_rows(trino_target, table), RELATIVE_TOLERANCE)
    assert build(workspace, target="trino", full_refresh=True).success
    for table in PUBLIC_TABLES:
        assert_same_rows(table, incremental[table], trino_rows(trino_target, table), RELATIVE_TOLERANCE)
    # Builds leave the unit tests to development and CI: every one runs here on Trino.
    unit_tests = run_dbt(workspace, ["test", "--select", "test_type:unit"], "trino")
    assert unit_tests.success, unit_tests.failures
    assert unit_tests.counts.get("pass") == defined_unit_tests()


def table_files(connection, table: str) -> dict[str, int]:
    """Data files and delete files of an Iceberg table (its $files metadata table)."""
    cursor = connection.cursor()
    cursor.execute(f'select count_if(content = 0), count_if(content <> 0) from "{table}$files"')
    data, deletes = cursor.fetchone()
    return {"data": data, "deletes": deletes}


def test_trino_data_sizes_parse_to_bytes():
    assert parse_data_size("0B") == 0
    assert parse_data_size("512B") == 512
    assert parse_data_size("1.5kB") == 1536
    assert parse_data_size("2MB") == 2 * 1024 * 1024
    with pytest.raises(ValueError):
        parse_data_size("two megabytes")


def test_a_settings_change_is_rebuilt_in_full_on_trino(workspace, lakehouse, tmp_path, trino_target):
    """build_settings on Iceberg: a build with another anomaly method over tables built
    with zscore is refused by dbt and rebuilt in full by `energy build`, giving the rows
    of a fresh build at the default."""
    history = generate_long_format(tmp_path / "history.csv", meters=2, days=30, interval_minutes=60, seed=8, spike_share=0.03)
    ingest_file(history.data_path, "raw/history.csv", lakehouse, now=dt.datetime(2024, 2, 1, tzinfo=dt.UTC))
    zscore = ["build", "--exclude-resource-type", "unit_test", "--vars", json.dumps({"anomaly_method": "zscore"})]
    assert run_dbt(workspace, zscore, "trino").success
    with pytest.raises(WarehouseError, match="anomaly_method zscore -> iqr"):
        run_dbt(workspace, ["build", "--exclude-resource-type", "unit_test"], "trino")
    rebuilt = build(workspace, target="trino")
    assert rebuilt.success, rebuilt.failures
    assert "anomaly_method zscore -> iqr" in rebuilt.rebuilt_for_settings
    after_change = trino_rows(trino_target, "fct_reading_anomalies")
    assert build(workspace, target="trino", full_refresh=True).success
    assert_same_rows("fct_reading_anomalies", after_change, trino_rows(trino_target, "fct_reading_anomalies"), RELATIVE_TOLERANCE)
    # and the same flags as DuckDB's build at the default
    assert build(workspace).success
    on_duckdb = query(workspace, ordered_select("fct_reading_anomalies")).to_pylist()
    assert_same_rows("fct_reading_anomalies", on_duckdb, after_change, RELATIVE_TOLERANCE)


def test_a_warehouse_whose_daily_table_predates_the_view_upgrades_on_trino(workspace, lakehouse, tmp_path, trino_target):
    """Warehouses built before fct_daily_consumption became a view of
    int_readings_aggregated_to_days hold it as a table, and no intermediate: the next
    build computes the days, replaces the table by the view and gives the same rows."""
    history = generate_long_format(tmp_path / "history.csv", meters=2, days=20, interval_minutes=60, seed=6)
    ingest_file(history.data_path, "raw/history.csv", lakehouse, now=dt.datetime(2024, 2, 1, tzinfo=dt.UTC))
    assert build(workspace, target="trino").success
    before = trino_rows(trino_target, "fct_daily_consumption")
    cursor = trino_target.cursor()
    for statement in (
        "drop view fct_daily_consumption",
        "create table fct_daily_consumption as select * from int_readings_aggregated_to_days",
        "drop table int_readings_aggregated_to_days",
    ):
        cursor.execute(statement)
        cursor.fetchall()
    assert build(workspace, target="trino").success
    cursor.execute("select table_type from information_schema.tables where table_name = 'fct_daily_consumption'")
    assert cursor.fetchall() == [["VIEW"]]
    assert_same_rows("fct_daily_consumption", before, trino_rows(trino_target, "fct_daily_consumption"), RELATIVE_TOLERANCE)


def test_a_warehouse_of_the_release_before_the_renames_upgrades_on_trino(workspace, lakehouse, tmp_path, trino_target):
    """On Iceberg: a warehouse of the release before the renames (README, "Renamed tables
    and columns") holds stg_readings and fct_reading_anomalies as tables with the old
    column names, none of the new staging, scoring or meter tables, and only the old
    names in the forecast and daily anomaly tables. The next build upgrades it: the same
    rows in every public table, and the old table names are views."""
    history = generate_long_format(tmp_path / "history.csv", meters=2, days=30, interval_minutes=60, seed=7)
    ingest_file(history.data_path, "raw/history.csv", lakehouse, now=dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
    assert build(workspace, target="trino").success
    before = {table: trino_rows(trino_target, table) for table in PUBLIC_TABLES}
    cursor = trino_target.cursor()
    statements = [
        "create table old_reading_anomalies as"
        " select meter_id, flow, reading_start, reading_date, slot_minute, kwh, quality, baseline_mean, baseline_stddev,"
        " baseline_n, z_score, is_anomaly, direction, ingested_at, dbt_loaded_at from fct_reading_anomalies",
        "drop view fct_reading_anomalies",
        "alter table old_reading_anomalies rename to fct_reading_anomalies",
        "drop table int_readings_scored",
        "create table old_readings as select * from stg_lake__readings",
        "drop view stg_readings",
        "alter table old_readings rename to stg_readings",
        "drop table stg_lake__readings",
        "drop table dim_meters",
        "drop table int_days_aggregated_to_meters",
    ]
    for table, columns in {
        "fct_daily_anomalies": ["baseline_center", "baseline_scale", "baseline_day_count"],
        "fct_forecast_accuracy": ["forecast_count", "band_coverage", "band_coverage_count"],
        "fct_forecast": ["band_source"],
    }.items():
        statements += [f"alter table {table} drop column {column}" for column in columns]
    for statement in statements:
        cursor.execute(statement)
        cursor.fetchall()
    assert build(workspace, target="trino").success
    for old_name in ("fct_reading_anomalies", "stg_readings"):
        cursor.execute(f"select table_type from information_schema.tables where table_name = '{old_name}'")
        assert cursor.fetchall() == [["VIEW"]], old_name
    for table in PUBLIC_TABLES:
        assert_same_rows(table, before[table], trino_rows(trino_target, table), RELATIVE_TOLERANCE)
