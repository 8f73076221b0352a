"""The warehouse side of the local flow: dbt in-process, and read-only SQL."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from ingest_lambda.errors import EnergyError

from .workspace import DBT_PROJECT_DIR, Workspace


class WarehouseError(EnergyError, RuntimeError):
    """A problem a person can act on; the message says what to do."""


@dataclass
class NodeFailure:
    name: str
    kind: str  # model, test, unit_test, seed
    message: str
    failing_rows: int | None = None  # for data tests: rows that broke the rule
    compiled_sql: str | None = None  # where to read the query that failed


@dataclass
class BuildResult:
    success: bool
    rebuilt_for_schema_change: bool = False
    # Why the build rebuilt the warehouse in full: the settings that changed since the
    # incremental tables were built (dbt_project/macros/build_settings.sql), else None.
    rebuilt_for_settings: str | None = None
    counts: dict[str, int] = field(default_factory=dict)  # status -> number of nodes
    failures: list[NodeFailure] = field(default_factory=list)


def dbt_environment(workspace: Workspace, target: str = "duckdb") -> None:
    """What dbt needs to find the lake and keep its files inside the workspace. On the
    trino target the lake is read through the server's file system, rooted at
    TRINO_LOCAL_ROOT (energy/trino.py), unless ENERGY_LAKE_LOCATION names it (s3://...).
    Raises WarehouseError when the workspace is outside that root."""
    os.environ["ENERGY_HOME"] = str(workspace.home)
    if target == "trino" and not os.environ.get("ENERGY_LAKE_LOCATION"):
        from .trino import local_lake_location

        try:
            os.environ["ENERGY_TRINO_LOCAL_LAKE"] = local_lake_location(workspace.home)
        except ValueError as error:
            raise WarehouseError(str(error)) from None
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("DBT_PROFILES_DIR", str(DBT_PROJECT_DIR))


@dataclass
class NodeProgress:
    """One step of a dbt run: `done` of `total` nodes finished, `running` just started."""

    done: int
    total: int
    running: str


def run_dbt(
    workspace: Workspace, command: list[str], target: str = "duckdb", on_progress: Callable[[NodeProgress], None] | None = None
) -> BuildResult:
    """Run a dbt command in-process (no second interpreter start-up)."""
    from dbt.cli.main import dbtRunner

    dbt_environment(workspace, target)
    artifacts = workspace.dbt_artifacts
    args = [
        *command,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(artifacts / "target"),
        "--log-path",
        str(artifacts / "logs"),
        "--target",
        target,
        "--quiet",
    ]
    callbacks = [_progress_callback(on_progress)] if on_progress else []
    try:
        outcome = dbtRunner(callbacks=callbacks).invoke(args)
    finally:
        _release_duckdb()
    result = BuildResult(success=bool(outcome.success))
    if outcome.exception is not None:
        raise WarehouseError(f"dbt could not run: {outcome.exception}")
    for node in getattr(outcome.result, "results", None) or []:
        status = str(node.status)
        result.counts[status] = result.counts.get(status, 0) + 1
        if status in ("error", "fail"):
            compiled = getattr(node.node, "compiled_path", None)
            result.failures.append(
                NodeFailure(
                    name=node.node.name,
                    kind=str(getattr(node.node, "resource_type", "node")).split(".")[-1].lower(),
                    message=(node.message or "").strip(),
                    failing_rows=getattr(node, "failures", None),
                    compiled_sql=str(artifacts / "target" / compiled) if compiled else None,
                )
            )
    return result


def _progress_callback(on_progress: Callable[[NodeProgress], None]):
    state = {"done": 0, "total": 0, "running": ""}

    def on_event(event) -> None:
        name = event.info.name
        if name == "LogStartLine":  # "3 of 103 START sql table model main.stg_meters"
            state["total"] = max(state["total"], int(event.data.total))
            state["running"] = event.data.description
        elif name == "NodeFinished":
            state["done"] += 1
        else:
            return
        on_progress(NodeProgress(state["done"], state["total"], state["running"]))

    return on_event


def _release_duckdb() -> None:
    """dbt-duckdb keeps its database open for the life of the process; close it so the
    same process can open the warehouse read-only afterwards."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:
        return
    environment = DuckDBConnectionManager._ENV
    if environment is not None:
        environment.close()
    DuckDBConnectionManager.close_all_connections()


# The start of dbt_project/macros/build_settings.sql's refusal, and what it names.
SETTINGS_CHANGED = re.compile(r"energy: the incremental tables were built (?P<why>[^:]*):")


def build(
    workspace: Workspace, target: str = "duckdb", full_refresh: bool = False, on_progress: Callable[[NodeProgress], None] | None = None
) -> BuildResult:
    if target == "duckdb" and not workspace.lake_has_readings():
        raise WarehouseError(f"the lake at {workspace.lake} holds no readings yet: run `energy ingest FILE` first")
    _check_target_reachable(target)
    # Data tests on the largest tables check only the rows this build wrote
    # (dbt_project/macros/tests_on_new_rows.sql): on a full refresh that is every row.
    # The same vars on both kinds of build keep dbt's partial parsing valid between them.
    # Unit tests check the models' SQL against fixed inputs, not the data: they run in
    # development and CI (`make test` runs every one of them on DuckDB and on Trino), not
    # in a build of the warehouse, as dbt advises (on Athena each would be billed).
    build_command = ["build", "--vars", '{"test_new_rows_only": true}', "--exclude-resource-type", "unit_test"]
    full = [*build_command, "--full-refresh"]
    try:
        result = run_dbt(workspace, full if full_refresh else build_command, target, on_progress)
    except WarehouseError as error:
        # The incremental tables hold rows computed with other settings (a changed var,
        # or a release that changed a rule): adding to them would mix both. Rebuild.
        changed = SETTINGS_CHANGED.search(str(error))
        if full_refresh or changed is None:
            raise
        result = run_dbt(workspace, full, target, on_progress)
        result.rebuilt_for_settings = changed.group("why")
        return result
    if not full_refresh and any("out of sync" in failure.message for failure in result.failures):
        # The warehouse was built by an older version of the models: rebuild it whole.
        result = run_dbt(workspace, full, target, on_progress)
        result.rebuilt_for_schema_change = True
    return result


def maintain(workspace: Workspace, target: str = "duckdb", retention_days: int = 7) -> BuildResult:
    """Compact the incremental tables' small files and expire their snapshots older than
    `retention_days` (dbt_project/macros/maintenance.sql): weekly, never during a build.
    Raises WarehouseError when dbt cannot run or a maintenance statement fails."""
    _check_target_reachable(target)
    result = run_dbt(workspace, ["run-operation", "maintain_tables", "--args", f"{{retention_days: {int(retention_days)}}}"], target)
    if not result.success:
        raise WarehouseError(f"table maintenance on {target} failed: see {workspace.dbt_artifacts / 'logs'}")
    return result


def _check_target_reachable(target: str) -> None:
    """Say what to do before dbt prints a connection traceback."""
    if target == "trino":
        from .trino import TrinoServer

        server = TrinoServer.from_environment()
        if not server.answers():
            raise WarehouseError(
                f"no Trino server answers at {server.url}: start the local one with "
                "`trino/server.sh start` (TRINO_PORT picks its port), or set TRINO_HOST and TRINO_PORT"
            )
    elif target == "athena":
        import boto3

        if boto3.session.Session().get_credentials() is None:
            raise WarehouseError(
                "no AWS credentials found for the athena target: set AWS_PROFILE or "
                "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, and AWS_REGION"
            )


# What `energy sql` may run: queries. Anything else (COPY, ATTACH, SET, CALL, PRAGMA,
# EXPLAIN ANALYZE, CREATE...) could write files or change what the next query may touch.
_QUERY_STATEMENTS = {duckdb.StatementType.SELECT}


def lake_directories(workspace: Workspace) -> list[str]:
    """The folders the warehouse's lake views read (dbt_project/macros/lake_views.sql):
    the only files a query may open besides the warehouse itself."""
    return [str(workspace.lake / "readings") + os.sep, str(workspace.dq / "validations") + os.sep]


def query(workspace: Workspace, sql: str) -> pa.Table:
    """Run read-only SQL on the warehouse file and return the last statement's rows.

    Only SELECT statements run (DESCRIBE, SHOW, SUMMARIZE and VALUES count as SELECT).
    The connection is opened read-only with external access off, so a query can read
    the warehouse tables and the lake views over ``lake/readings`` and
    ``dq/validations`` but no other file, and the configuration is locked so no
    statement can undo that. Raises WarehouseError (with what to do) when there is no
    warehouse, when a statement is not a query, or when the query fails.
    """
    if not workspace.warehouse.exists():
        raise WarehouseError(f"no warehouse at {workspace.warehouse}: run `energy build` (or `energy demo`) first")
    with duckdb.connect(str(workspace.warehouse), read_only=True) as connection:
        # allowed_directories can only be set on a running database, and must be set
        # before external access goes off; the lock then keeps all three as they are.
        connection.execute("set allowed_directories = $directories", {"directories": lake_directories(workspace)})
        connection.execute("set enable_external_access = false")
        connection.execute("set lock_configuration = true")
        try:
            statements = connection.extract_statements(sql)
        except duckdb.Error as exc:
            raise WarehouseError(f"the query failed: {exc}") from None
        for statement in statements:
            if statement.type not in _QUERY_STATEMENTS:
                kind = statement.type.name.replace("_", " ")
                raise WarehouseError(
                    f"energy sql runs read-only queries; {kind} statements are refused: "
                    "write a SELECT (or WITH, DESCRIBE, SHOW, SUMMARIZE) over the warehouse tables"
                )
        try:
            result = pa.table({})
            for statement in statements:
                relation = connection.sql(statement)
                result = relation.to_arrow_table() if relation is not None else pa.table({})
            return result
        except duckdb.PermissionException as exc:
            raise WarehouseError(
                f"the query tried to open {_named_file(exc)}, outside the warehouse: energy sql reads "
                "only the warehouse tables and the lake views (lake.readings, dq.validations); "
                "to load another file, ingest it with `energy ingest FILE`"
            ) from None
        except duckdb.Error as exc:
            raise WarehouseError(f"the query failed: {exc}") from None


def _named_file(error: Exception) -> str:
    """The file DuckDB's permission error names ('Cannot access file "/etc/passwd" - ...')."""
    named = re.search(r'"([^"]*)"', str(error))
    return named.group(1) if named else "a file"
