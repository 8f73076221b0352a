"""The ingest Lambda: S3 event in, the ingest core, a structured result out.

Everything slow happens once per container (init): Great Expectations is imported and
the suite loaded, the source configuration read (an SSM parameter in the stack), the
storage areas resolved. Each record of the event is ingested in turn. A rejected upload
is an outcome (it is in quarantine with its reason), not an error, and a zero-byte
folder marker (a key ending in "/") is skipped; anything else that goes wrong raises, so
Lambda retries the event and, after the retries, sends it to the dead-letter queue. No
key can make a local path fail: the download's file name never comes from the key.
"""

from __future__ import annotations

import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventBridgeNotificationEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from .pipeline import ingest_file
from .settings import IngestSettings
from .sources import SourceConfig
from .storage import Area, Lakehouse
from .validate import validator

logger = Logger(service="energy-ingest")
metrics = Metrics(namespace=IngestSettings.from_environment().metrics_namespace, service="energy-ingest")


def lakehouse_from_environment(settings: IngestSettings | None = None) -> Lakehouse:
    """The three areas the stack names (LAKE_URI, QUARANTINE_URI, DQ_URI). Raises
    KeyError naming the first that is not set: the function cannot run without them."""
    settings = settings or IngestSettings.from_environment()
    uris = {"LAKE_URI": settings.lake_uri, "QUARANTINE_URI": settings.quarantine_uri, "DQ_URI": settings.dq_uri}
    for name, uri in uris.items():
        if not uri:
            raise KeyError(name)
    return Lakehouse(
        lake=Area.from_uri(settings.lake_uri),
        quarantine=Area.from_uri(settings.quarantine_uri),
        dq=Area.from_uri(settings.dq_uri),
    )


@dataclass(frozen=True)
class S3Object:
    """One object an event reports: its bucket and the forms of its key to try, in order."""

    bucket: str
    keys: tuple[str, ...]


def s3_objects(event: dict) -> list[S3Object]:
    """Every object of an S3 bucket notification or an EventBridge "Object Created" event.

    Notification keys are URL-encoded (spaces as '+'; the S3 notification message
    structure says so), so they are decoded. The EventBridge message structure does not
    say its keys are encoded and shows them plain, while the Powertools class decodes
    them: the key is tried as delivered first and decoded second, so either way the
    object is found, and a '+' or '%' in a real key is kept.
    """
    if event.get("detail-type") == "Object Created":
        detail = S3EventBridgeNotificationEvent(event).detail
        delivered = detail.object["key"]
        keys = tuple(dict.fromkeys((delivered, detail.object.key)))
        return [S3Object(detail.bucket.name, keys)]
    objects = []
    for record in S3Event(event).records:
        if "s3" not in record:
            raise ValueError(f"not an S3 event record: {sorted(record)}")
        objects.append(S3Object(record.s3.bucket.name, (urllib.parse.unquote_plus(record.s3.get_object.key),)))
    return objects


def is_folder_marker(key: str, size: int) -> bool:
    """The zero-byte object the console (and some tools) create for a "folder"."""
    return key.endswith("/") and size == 0


def sources_from_environment(settings: IngestSettings | None = None) -> SourceConfig:
    """The source configuration the stack names: an SSM parameter (SOURCES_PARAMETER,
    where producers, who can write the raw bucket, cannot) or a file (SOURCES_URI, a
    path or s3:// URI). Until someone writes it, every upload is read with the defaults."""
    settings = settings or IngestSettings.from_environment()
    parameter = settings.sources_parameter
    if not parameter:
        return SourceConfig.load(settings.sources_uri, missing_ok=True)
    ssm = boto3.client("ssm")
    try:
        text = ssm.get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return SourceConfig({})
    return SourceConfig.parse(text, f"SSM parameter {parameter}")


class IngestService:
    """What a warm container keeps between invocations."""

    def __init__(self) -> None:
        self.s3 = boto3.client("s3")
        settings = IngestSettings.from_environment()  # once per container
        self.lakehouse = lakehouse_from_environment(settings)
        self.sources = sources_from_environment(settings)
        validator()  # Great Expectations import and suite load, once per container

    def resolve(self, item: S3Object) -> tuple[str, int]:
        """The key that exists (the first of the event's key forms) and its size; when
        none does, the last one's error is raised, so Lambda retries."""
        for key in item.keys[:-1]:
            try:
                return key, self.s3.head_object(Bucket=item.bucket, Key=key)["ContentLength"]
            except ClientError as error:
                # A missing key is 404, or 403 without s3:ListBucket on the raw bucket
                # (the ingest role has none there); the next form is tried.
                if error.response.get("Error", {}).get("Code") not in ("404", "403", "NoSuchKey", "NotFound", "AccessDenied"):
                    raise
        key = item.keys[-1]
        return key, self.s3.head_object(Bucket=item.bucket, Key=key)["ContentLength"]

    def ingest_object(self, item: S3Object) -> dict:
        key, size = self.resolve(item)
        if is_folder_marker(key, size):
            metrics.add_metric(name="UploadsSkipped", unit=MetricUnit.Count, value=1)
            logger.info("skipped folder marker", extra={"bucket": item.bucket, "key": key, "outcome": "skipped"})
            return {"source_key": key, "outcome": "skipped", "message": "a zero-byte folder marker, not an upload"}
        options = self.sources.options_for(key)
        with tempfile.TemporaryDirectory(prefix="upload-") as folder:
            # Never named after the key: its last segment may be "..", empty, or longer
            # than a file name may be (S3 keys run to 1,024 bytes).
            local = Path(folder) / "upload"
            self.s3.download_file(item.bucket, key, str(local))
            report = ingest_file(local, key, self.lakehouse, options)
        metrics.add_metric(name="RowsIn", unit=MetricUnit.Count, value=report.rows_in)
        metrics.add_metric(name="RowsLanded", unit=MetricUnit.Count, value=report.rows_landed)
        metrics.add_metric(name="RowsQuarantined", unit=MetricUnit.Count, value=report.rows_quarantined)
        metrics.add_metric(name="UploadsRejected" if report.outcome == "rejected" else "UploadsAccepted", unit=MetricUnit.Count, value=1)
        logger.info(
            "ingested upload",
            extra={
                "bucket": item.bucket,
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


if IngestSettings.from_environment().in_lambda:  # Lambda init: pay the start-up cost before the first event
    service()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    results = [service().ingest_object(item) for item in s3_objects(event)]
    return {
        "uploads": len(results),
        "accepted": sum(r["outcome"] in ("accepted", "already_ingested") for r in results),
        "rejected": sum(r["outcome"] == "rejected" for r in results),
        "skipped": sum(r["outcome"] == "skipped" for r in results),
        "results": results,
    }
