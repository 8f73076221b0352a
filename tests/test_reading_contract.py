"""One reading contract. The lake's schema is defined once, by the ingest's Arrow schemas
(ingest_lambda.pipeline.LAKE_SCHEMA and DQ_SCHEMA, what every Parquet object is written
with); the three other places that spell it out are checked against it here, column by
column and type by type: the Trino external tables (dbt_project/macros/lake_views.sql),
the Glue tables Athena reads (infra/template.yaml) and the dbt sources
(dbt_project/models/sources.yml). DuckDB reads the Parquet files themselves."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from infra.stack import template
from ingest_lambda.pipeline import DQ_SCHEMA, LAKE_SCHEMA

REPO = Path(__file__).resolve().parents[1]
CONTRACTS = {"readings": LAKE_SCHEMA, "validations": DQ_SCHEMA}
GLUE_TABLES = {"readings": "LakeReadingsTable", "validations": "LakeValidationsTable"}


def trino_type(arrow: pa.DataType) -> str:
    if pa.types.is_string(arrow):
        return "varchar"
    if pa.types.is_timestamp(arrow):
        return {"ms": "timestamp(3)", "us": "timestamp(6)"}[arrow.unit]
    return {pa.int32(): "integer", pa.int64(): "bigint", pa.float64(): "double", pa.bool_(): "boolean"}[arrow]


def glue_type(arrow: pa.DataType) -> str:
    if pa.types.is_string(arrow):
        return "string"
    if pa.types.is_timestamp(arrow):
        return "timestamp"
    return {pa.int32(): "int", pa.int64(): "bigint", pa.float64(): "double", pa.bool_(): "boolean"}[arrow]


def trino_columns() -> dict[str, list[tuple[str, str]]]:
    macro = (REPO / "dbt_project" / "macros" / "lake_views.sql").read_text()
    tables = {}
    for name, body in re.findall(r"\('(\w+)', root ~ '[^']+', \[(.*?)\]\)", macro, flags=re.S):
        tables[name] = [tuple(column.split(" ", 1)) for column in re.findall(r"'([^']+)'", body)]
    return tables


@pytest.mark.parametrize("table", sorted(CONTRACTS))
def test_trino_external_tables_follow_the_arrow_schema(table):
    want = [(f.name, trino_type(f.type)) for f in CONTRACTS[table]]
    assert trino_columns()[table] == want


@pytest.mark.parametrize("table", sorted(CONTRACTS))
def test_glue_tables_follow_the_arrow_schema(table):
    table_input = template()["Resources"][GLUE_TABLES[table]]["Properties"]["TableInput"]
    columns = [(c["Name"], c["Type"]) for c in table_input["StorageDescriptor"]["Columns"]]
    assert columns == [(f.name, glue_type(f.type)) for f in CONTRACTS[table]]
    # the lake's folders are partitioned by ingest date (lake/<table>/ingest_date=YYYY-MM-DD/)
    assert table_input["PartitionKeys"] == [{"Name": "ingest_date", "Type": "date"}]


@pytest.mark.parametrize("table", sorted(CONTRACTS))
def test_dbt_sources_document_every_column_of_the_arrow_schema(table):
    sources = yaml.safe_load((REPO / "dbt_project" / "models" / "sources.yml").read_text())["sources"]
    documented = {t["name"]: [c["name"] for c in t.get("columns", [])] for s in sources for t in s["tables"]}
    assert documented[table] == CONTRACTS[table].names


def test_the_check_would_catch_a_drift():
    # the mapping is strict: a type the contract does not know fails rather than passes
    with pytest.raises(KeyError):
        trino_type(pa.int16())
    assert trino_type(pa.timestamp("ms")) == "timestamp(3)" and glue_type(pa.int32()) == "int"
