"""The public tables and how two copies of them are compared (incremental against full
refresh, DuckDB against Trino)."""

from __future__ import annotations

import decimal
import math

# Every table analysts query, with the key that orders it.
PUBLIC_TABLES = {
    "stg_lake__readings": ["meter_id", "flow", "reading_start"],
    # the name of the release before, a view of stg_lake__readings for one release
    "stg_readings": ["meter_id", "flow", "reading_start"],
    "fct_daily_consumption": ["meter_id", "reading_date"],
    "fct_reading_anomalies": ["meter_id", "flow", "reading_start"],
    "fct_reading_anomalies_daily": ["meter_id", "flow", "reading_date"],
    "fct_daily_anomalies": ["meter_id", "flow", "reading_date"],
    "fct_forecast": ["meter_id", "flow", "method", "forecast_date"],
    "fct_forecast_accuracy": ["meter_id", "flow", "method", "horizon_days"],
    "fct_data_quality": ["ingest_id", "expectation"],
    "fct_meter_health": ["meter_id", "flow"],
    "fct_level_shifts": ["meter_id", "flow", "reading_date"],
    "rpt_summary": ["scope", "meter_id"],
    "dim_meters": ["meter_id"],
}


def ordered_select(table: str) -> str:
    return f"select * from {table} order by {', '.join(PUBLIC_TABLES[table])}"


def same_value(a, b, rel_tol: float) -> bool:
    """Numbers equal to rel_tol (sums of doubles may associate in another order; an engine
    may hand back a decimal), anything else exactly."""
    if isinstance(a, (float, decimal.Decimal)) or isinstance(b, (float, decimal.Decimal)):
        if a is None or b is None:
            return a is b
        return math.isclose(float(a), float(b), rel_tol=rel_tol, abs_tol=1e-12)
    return a == b


def assert_same_rows(table: str, left: list[dict], right: list[dict], rel_tol: float) -> None:
    assert len(left) == len(right), (table, len(left), len(right))
    for row_left, row_right in zip(left, right):
        assert row_left.keys() == row_right.keys(), table
        for column, value in row_left.items():
            if column.startswith("dbt_"):
                continue  # build bookkeeping: when the run that wrote the row started
            assert same_value(value, row_right[column], rel_tol), (table, column, row_left, row_right)
