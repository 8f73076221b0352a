"""Great Expectations validation of normalised readings.

The suite in ``expectations/readings.json`` is the single source of the rules. Great
Expectations is imported once per process (it costs seconds and hundreds of MB), on
first use, which is Lambda init in the cloud. An upload is validated batch by batch;
a ``ValidationTally`` adds the batches up into one result per upload and expectation.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from .options import DEFAULT_MAX_KW
from .settings import IngestSettings

SUITE_NAME = "readings"
# Thresholds a source may set (IngestOptions), with their defaults from there.
SUITE_PARAMETER_DEFAULTS = {"max_kw": DEFAULT_MAX_KW}


def suite_path() -> Path:
    configured = IngestSettings.from_environment().expectations_dir
    if configured:
        return configured / f"{SUITE_NAME}.json"
    packaged = Path(__file__).with_name("expectations") / f"{SUITE_NAME}.json"
    if packaged.exists():
        return packaged
    return Path(__file__).resolve().parents[1] / "expectations" / f"{SUITE_NAME}.json"


def _reason(meta: dict, name: str, in_force: dict) -> str:
    """An expectation's reason, quoting the thresholds in force (``{max_kw:,.0f}``: the
    cap a source set, or the default)."""
    text = meta.get("reason", name)
    return text.format_map(in_force) if "{" in text else text


@dataclass
class ExpectationOutcome:
    expectation: str  # type and column, e.g. expect_column_values_to_be_between(kwh)
    expectation_type: str
    kwargs: dict
    level: str  # "row" or "table"
    reason: str
    success: bool = True
    element_count: int = 0
    unexpected_count: int = 0
    examples: list = field(default_factory=list)  # a few failing values, for Data Docs

    def add(self, success: bool, element_count: int, unexpected_count: int, examples: list) -> None:
        self.success = self.success and success
        self.element_count += element_count
        self.unexpected_count += unexpected_count
        self.examples.extend(examples[: max(0, 20 - len(self.examples))])


@dataclass
class BatchValidation:
    row_reasons: np.ndarray  # object array: None for a good row, else "; "-joined reasons
    table_failure: str | None
    outcomes: list[tuple[str, bool, int, int, list]]  # (expectation, success, elements, unexpected, examples)


class _Validator:
    """One Great Expectations context and suite for the life of the process."""

    def __init__(self) -> None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

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
        self._lock = threading.Lock()  # one context: validations in threads take turns
        # Only the columns the rules look at go to pandas (no meter or zone strings).
        self.columns = sorted({e.configuration.kwargs["column"] for e in self.suite.expectations if "column" in e.configuration.kwargs})

    def new_tally(self, parameters: dict | None = None) -> ValidationTally:
        """An empty tally of the suite's outcomes; ``parameters`` as for validate."""
        in_force = {**SUITE_PARAMETER_DEFAULTS, **(parameters or {})}
        outcomes = []
        for expectation in self.suite.expectations:
            config = expectation.configuration
            column = config.kwargs.get("column")
            meta: dict[str, Any] = config.meta or {}
            outcomes.append(
                ExpectationOutcome(
                    expectation=f"{config.type}({column})" if column else config.type,
                    expectation_type=config.type,
                    kwargs=dict(config.kwargs),
                    level=meta.get("level", "row"),
                    reason=_reason(meta, config.type, in_force),
                )
            )
        return ValidationTally({o.expectation: o for o in outcomes})

    def validate(self, readings: pa.Table, parameters: dict | None = None) -> BatchValidation:
        """Validate one batch; ``parameters`` fill the suite's ``$PARAMETER`` thresholds
        (``max_kw``: a source's power cap)."""
        frame = readings.select(self.columns).to_pandas()
        with self._lock:
            batch = self.batch_definition.get_batch(batch_parameters={"dataframe": frame})
            result = batch.validate(
                self.suite,
                result_format={"result_format": "COMPLETE"},
                expectation_parameters={**SUITE_PARAMETER_DEFAULTS, **(parameters or {})},
            )
        in_force = {**SUITE_PARAMETER_DEFAULTS, **(parameters or {})}
        reasons: dict[int, list[str]] = {}  # only failing rows: most rows pass
        outcomes = []
        table_failure = None
        for item in result.results:
            config = item.expectation_config
            meta: dict[str, Any] = config.meta or {}
            column = config.kwargs.get("column")
            name = f"{config.type}({column})" if column else config.type
            level = meta.get("level", "row")
            details = item.result or {}
            unexpected = int(details.get("unexpected_count") or 0) if level == "row" else int(not item.success)
            examples = list(details.get("partial_unexpected_list") or [])[:20]
            outcomes.append((name, bool(item.success), int(details.get("element_count") or len(frame)), unexpected, examples))
            if item.success:
                continue
            if level == "table":
                table_failure = table_failure or _reason(meta, name, in_force)
                continue
            reason_column = meta.get("reason_column")
            for index in details.get("unexpected_index_list") or []:
                reasons.setdefault(int(index), []).append(
                    frame[reason_column].iat[int(index)] if reason_column else _reason(meta, name, in_force)
                )
        row_reasons = np.full(len(frame), None, dtype=object)
        for index, texts in reasons.items():
            row_reasons[index] = "; ".join(texts)
        return BatchValidation(row_reasons, table_failure, outcomes)


@dataclass
class ValidationTally:
    """Per expectation, the sum over an upload's batches."""

    outcomes: dict[str, ExpectationOutcome]

    def add(self, batch: BatchValidation) -> None:
        for name, success, elements, unexpected, examples in batch.outcomes:
            self.outcomes[name].add(success, elements, unexpected, examples)

    def add_failures(self, name: str, count: int, examples: list) -> None:
        """Failures found after the batches (duplicates across batches)."""
        if count:
            self.outcomes[name].add(False, 0, count, examples)

    def records(self) -> list[dict]:
        return [
            {
                "expectation": o.expectation,
                "level": o.level,
                "success": o.success,
                "element_count": o.element_count,
                "unexpected_count": o.unexpected_count,
                "reason": o.reason,
            }
            for o in self.outcomes.values()
        ]

    def to_gx_result(self, ingest_id: str, source_key: str, evaluated_at: dt.datetime) -> dict:
        """The tally as a Great Expectations suite validation result (for Data Docs)."""
        from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
        from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

        results = []
        for o in self.outcomes.values():
            share = 100.0 * o.unexpected_count / o.element_count if o.element_count else 0.0
            results.append(
                ExpectationValidationResult(
                    success=o.success,
                    expectation_config=ExpectationConfiguration(
                        type=o.expectation_type, kwargs=o.kwargs, meta={"level": o.level, "reason": o.reason}
                    ),
                    result={
                        "element_count": o.element_count,
                        "unexpected_count": o.unexpected_count,
                        "unexpected_percent": share,
                        "partial_unexpected_list": [_jsonable(v) for v in o.examples],
                    },
                )
            )
        passed = sum(1 for o in self.outcomes.values() if o.success)
        document = ExpectationSuiteValidationResult(
            success=passed == len(results),
            results=results,
            suite_name=SUITE_NAME,
            statistics={
                "evaluated_expectations": len(results),
                "successful_expectations": passed,
                "unsuccessful_expectations": len(results) - passed,
                "success_percent": 100.0 * passed / len(results) if results else 100.0,
            },
            meta={"ingest_id": ingest_id, "source_key": source_key, "evaluated_at": evaluated_at.isoformat()},
        ).to_json_dict()
        return document


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


@lru_cache(maxsize=1)
def validator() -> _Validator:
    return _Validator()


def batch_label(source_key: str) -> str:
    """An upload's key as Data Docs names its page: letters, digits, '.', '_' and '-'
    only. The label is both a file name in the site and text Great Expectations puts in
    its pages without escaping; the run (the ingest id) keeps two uploads apart."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", source_key.replace("/", "__")) or "upload"


def _html_escaped(value: Any) -> Any:
    """Every string of a stored result escaped for HTML. Great Expectations renders the
    strings of a result (reasons, unexpected values, meta) into its pages as HTML, and
    they hold text from the upload (a cell, a meter id, a file name)."""
    if isinstance(value, str):
        return html.escape(value, quote=True)
    if isinstance(value, dict):
        return {key: _html_escaped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_html_escaped(item) for item in value]
    return value


def build_data_docs(results: list[dict], site_dir: Path) -> Path:
    """Render the Great Expectations Data Docs site for stored upload results."""
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    context = validator().context
    site_name = f"uploads-{abs(hash(str(site_dir)))}"
    if site_name not in (context.get_config().data_docs_sites or {}):
        context.add_data_docs_site(
            site_name=site_name,
            site_config={
                "class_name": "SiteBuilder",
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site_dir)},
            },
        )
    store = context.validation_results_store
    # The context lives as long as the process: results stored for another workspace
    # (or an earlier call) must not become pages of this site.
    for stale in store.list_keys():
        store.remove_key(stale)
    for document in results:
        meta = document.get("meta", {})
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=SUITE_NAME),
            run_id=RunIdentifier(
                run_name=meta.get("ingest_id", "upload"),
                run_time=dt.datetime.fromisoformat(meta.get("evaluated_at", "1970-01-01T00:00:00+00:00")),
            ),
            batch_identifier=batch_label(meta.get("source_key", "upload")),
        )
        store.set(key, ExpectationSuiteValidationResult(**_html_escaped(document)))
    context.build_data_docs(site_names=[site_name])
    return site_dir / "index.html"
