"""Great Expectations validation of normalised readings.

The suite in ``expectations/readings.json`` is the single source of the rules. Great
Expectations is imported once per process (it costs seconds and hundreds of MB), on
first use, which is Lambda init in the cloud.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

SUITE_NAME = "readings"


def suite_path() -> Path:
    configured = os.environ.get("ENERGY_EXPECTATIONS_DIR")
    if configured:
        return Path(configured) / f"{SUITE_NAME}.json"
    packaged = Path(__file__).with_name("expectations") / f"{SUITE_NAME}.json"
    if packaged.exists():
        return packaged
    return Path(__file__).resolve().parents[1] / "expectations" / f"{SUITE_NAME}.json"


@dataclass
class ExpectationOutcome:
    expectation: str  # type and column, e.g. expect_column_values_to_be_between(kwh)
    level: str  # "row" or "table"
    success: bool
    element_count: int
    unexpected_count: int
    reason: str


@dataclass
class Validation:
    outcomes: list[ExpectationOutcome]
    row_reasons: np.ndarray  # object array: None for a good row, else "; "-joined reasons
    table_failure: str | None  # reason when a table-level expectation failed


class _Validator:
    """One Great Expectations context and suite for the life of the process."""

    def __init__(self) -> None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self._gx = gx
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        definition = json.loads(suite_path().read_text())
        suite = gx.ExpectationSuite(**definition)
        # ExpectationSuite only logs an invalid expectation and drops it: refuse instead.
        if len(suite.expectations) != len(definition["expectations"]):
            raise RuntimeError(f"{suite_path()} holds an invalid expectation; see the log above")
        self.suite = self.context.suites.add(suite)
        asset = self.context.data_sources.add_pandas("uploads").add_dataframe_asset("readings")
        self.batch_definition = asset.add_batch_definition_whole_dataframe("upload")

    def validate(self, readings: pa.Table) -> Validation:
        frame = readings.to_pandas()
        batch = self.batch_definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(self.suite, result_format={"result_format": "COMPLETE"})
        reasons: list[list[str]] = [[] for _ in range(len(frame))]
        outcomes: list[ExpectationOutcome] = []
        table_failure = None
        for item in result.results:
            config = item.expectation_config
            meta: dict[str, Any] = config.meta or {}
            column = config.kwargs.get("column")
            name = f"{config.type}({column})" if column else config.type
            level = meta.get("level", "row")
            details = item.result or {}
            unexpected = int(details.get("unexpected_count") or 0)
            outcomes.append(
                ExpectationOutcome(
                    expectation=name,
                    level=level,
                    success=bool(item.success),
                    element_count=int(details.get("element_count") or len(frame)),
                    unexpected_count=unexpected if level == "row" else int(not item.success),
                    reason=meta.get("reason", name),
                )
            )
            if item.success:
                continue
            if level == "table":
                table_failure = table_failure or meta.get("reason", name)
                continue
            reason_column = meta.get("reason_column")
            for index in details.get("unexpected_index_list") or []:
                reasons[int(index)].append(
                    frame[reason_column].iat[int(index)] if reason_column else meta.get("reason", name)
                )
        row_reasons = np.array(["; ".join(r) if r else None for r in reasons], dtype=object)
        return Validation(outcomes, row_reasons, table_failure)


@lru_cache(maxsize=1)
def validator() -> _Validator:
    return _Validator()


def validate_readings(readings: pa.Table) -> Validation:
    return validator().validate(readings)


def evaluated_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)
