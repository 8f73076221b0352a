"""The `athena` target against a moto server: the profile connects and every model
compiles to SQL that parses as Athena (Trino) SQL.

moto accepts Athena queries without running them, so this proves configuration and
compilation, not results; results are proven on Trino (test_trino.py), which runs the
same default__ macros Athena does.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import sqlglot
from sqlglot.errors import ParseError

from .conftest import REPO

DBT = str(Path(sys.executable).with_name("dbt"))
RESULTS_BUCKET = "energy-athena-results"
WAREHOUSE_BUCKET = "energy-warehouse"
# Functions that exist in DuckDB only: none may reach Athena.
DUCKDB_ONLY = re.compile(r"\b(epoch|isodow|to_days|read_parquet|quantile_cont|timezone|median)\s*\(", re.IGNORECASE)


@pytest.fixture(scope="module")
def athena_account(moto_endpoint, tmp_path_factory):
    s3 = boto3.client("s3")
    for bucket in (RESULTS_BUCKET, WAREHOUSE_BUCKET):
        s3.create_bucket(Bucket=bucket)
    glue = boto3.client("glue")
    for database in ("energy", "energy_lake"):
        glue.create_database(DatabaseInput={"Name": database})
    boto3.client("athena").create_work_group(
        Name="energy",
        Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{RESULTS_BUCKET}/"}, "EnforceWorkGroupConfiguration": True},
    )
    home = tmp_path_factory.mktemp("athena")
    return {
        **os.environ,
        "ENERGY_HOME": str(home),
        "DBT_PROFILES_DIR": str(REPO / "dbt_project"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "ATHENA_S3_STAGING_DIR": f"s3://{RESULTS_BUCKET}/dbt/",
        "ATHENA_S3_DATA_DIR": f"s3://{WAREHOUSE_BUCKET}/tables/",
        "AWS_REGION": "us-east-1",
    }, home


def dbt(arguments: list[str], environment: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [DBT, *arguments, "--target", "athena"], cwd=REPO / "dbt_project", env=environment, capture_output=True, text=True, timeout=300
    )


def test_dbt_debug_connects_to_athena(athena_account):
    environment, _ = athena_account
    done = dbt(["debug"], environment)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All checks passed" in done.stdout


def test_every_model_compiles_to_athena_sql(athena_account):
    environment, home = athena_account
    target = home / "target"
    done = dbt(["compile", "--target-path", str(target), "--log-path", str(home / "logs")], environment)
    assert done.returncode == 0, done.stdout + done.stderr

    models_dir = target / "compiled" / "energy" / "models"
    compiled = sorted(models_dir.rglob("*.sql"))
    models = [path for path in compiled if path.relative_to(models_dir).parts[0] in ("staging", "intermediate", "marts")]
    assert len(models) >= 16
    for path in compiled:
        sql = path.read_text()
        assert not DUCKDB_ONLY.search(sql), (path, DUCKDB_ONLY.search(sql))
        try:
            statements = sqlglot.parse(sql, read="athena")
        except ParseError as error:
            pytest.fail(f"{path.relative_to(target)} does not parse as Athena SQL: {error}")
        assert [statement for statement in statements if statement is not None], path

    # The lake is the stack's Glue table, not a local view.
    staging = (target / "compiled" / "energy" / "models" / "staging" / "stg_lake__readings.sql").read_text()
    assert '"awsdatacatalog"."energy_lake"."readings"' in staging
