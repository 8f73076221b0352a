"""The ingest Lambda's settings, read from the environment once, at init.

The stack (infra/template.yaml) sets them; a local run of the ingest (the ``energy``
command) passes its own Lakehouse and reads none of them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

METRICS_NAMESPACE = "EnergyLakehouse"


@dataclass(frozen=True)
class IngestSettings:
    """LAKE_URI, QUARANTINE_URI and DQ_URI (s3:// prefixes of the three areas);
    SOURCES_PARAMETER (the SSM parameter of the source configuration) or SOURCES_URI (a
    path or s3:// URI of it); ENERGY_EXPECTATIONS_DIR (a folder holding another
    readings.json suite, for tests); POWERTOOLS_METRICS_NAMESPACE."""

    lake_uri: str | None = None
    quarantine_uri: str | None = None
    dq_uri: str | None = None
    sources_parameter: str | None = None
    sources_uri: str | None = None
    expectations_dir: Path | None = None
    metrics_namespace: str = METRICS_NAMESPACE
    in_lambda: bool = False  # AWS_LAMBDA_FUNCTION_NAME is set: this is a function's init

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> IngestSettings:
        expectations = environ.get("ENERGY_EXPECTATIONS_DIR")
        return cls(
            lake_uri=environ.get("LAKE_URI"),
            quarantine_uri=environ.get("QUARANTINE_URI"),
            dq_uri=environ.get("DQ_URI"),
            sources_parameter=environ.get("SOURCES_PARAMETER") or None,
            sources_uri=environ.get("SOURCES_URI") or None,
            expectations_dir=Path(expectations) if expectations else None,
            metrics_namespace=environ.get("POWERTOOLS_METRICS_NAMESPACE", METRICS_NAMESPACE),
            in_lambda=bool(environ.get("AWS_LAMBDA_FUNCTION_NAME")),
        )
