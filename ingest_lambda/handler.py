"""The ingest Lambda: S3 event in, the ingest core, a structured result out.

Everything slow happens once per container (init): Great Expectations is imported and
the suite loaded, the source configuration read, the storage areas resolved. Each
record of the event is ingested in turn. A rejected upload is an outcome (it is in
quarantine with its reason), not an error; anything else that goes wrong raises, so
Lambda retries the event and, after the retries, sends it to the dead-letter queue.
"""

from __future__ import annotations

import os
import tempfile
import urllib.parse
from pathlib import Path

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from .pipeline import ingest_file
from .sources import SourceConfig
from .storage import Area, Lakehouse
from .validate import validator

logger = Logger(service="energy-ingest")
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "EnergyLakehouse"), service="energy-ingest")


def lakehouse_from_environment() -> Lakehouse:
    return Lakehouse(
        lake=Area.from_uri(os.environ["LAKE_URI"]),
        quarantine=Area.from_uri(os.environ["QUARANTINE_URI"]),
        dq=Area.from_uri(os.environ["DQ_URI"]),
    )


def s3_objects(event: dict) -> list[tuple[str, str]]:
    """(bucket, key) of every object in an S3 notification or EventBridge event."""
    if event.get("detail-type") == "Object Created":  # EventBridge
        detail = event["detail"]
        return [(detail["bucket"]["name"], detail["object"]["key"])]
    objects = []
    for record in event.get("Records", []):
        if "s3" not in record:
            raise ValueError(f"not an S3 event record: {sorted(record)}")
        # Keys arrive URL-encoded, with spaces as '+'.
        objects.append((record["s3"]["bucket"]["name"], urllib.parse.unquote_plus(record["s3"]["object"]["key"])))
    return objects


class IngestService:
    """What a warm container keeps between invocations."""

    def __init__(self) -> None:
        self.s3 = boto3.client("s3")
        self.lakehouse = lakehouse_from_environment()
        # The stack names where the configuration lives; until someone writes it there,
        # every upload is read with the defaults.
        self.sources = SourceConfig.load(os.environ.get("SOURCES_URI"), missing_ok=True)
        validator()  # Great Expectations import and suite load, once per container

    def ingest_object(self, bucket: str, key: str) -> dict:
        options = self.sources.options_for(key)
        with tempfile.TemporaryDirectory(prefix="upload-") as folder:
            local = Path(folder) / (Path(key).name or "upload")
            self.s3.download_file(bucket, key, str(local))
            report = ingest_file(local, key, self.lakehouse, options)
        metrics.add_metric(name="RowsIn", unit=MetricUnit.Count, value=report.rows_in)
        metrics.add_metric(name="RowsLanded", unit=MetricUnit.Count, value=report.rows_landed)
        metrics.add_metric(name="RowsQuarantined", unit=MetricUnit.Count, value=report.rows_quarantined)
        metrics.add_metric(name="UploadsRejected" if report.outcome == "rejected" else "UploadsAccepted", unit=MetricUnit.Count, value=1)
        logger.info(
            "ingested upload",
            extra={
                "bucket": bucket,
                "key": key,
                "ingest_id": report.ingest_id,
                "outcome": report.outcome,
                "rows_in": report.rows_in,
                "rows_landed": report.rows_landed,
                "rows_quarantined": report.rows_quarantined,
                "detail": report.message,
                "top_reasons": dict(list(report.reasons.items())[:5]),
            },
        )
        return report.to_dict()


_service: IngestService | None = None


def service() -> IngestService:
    global _service
    if _service is None:
        _service = IngestService()
    return _service


if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):  # Lambda init: pay the start-up cost before the first event
    service()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context) -> dict:
    results = []
    for bucket, key in s3_objects(event):
        results.append(service().ingest_object(bucket, key))
    return {
        "uploads": len(results),
        "accepted": sum(r["outcome"] in ("accepted", "already_ingested") for r in results),
        "rejected": sum(r["outcome"] == "rejected" for r in results),
        "results": results,
    }
