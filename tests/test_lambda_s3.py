"""The Lambda handler against a moto S3 server over real HTTP."""

from __future__ import annotations

import io
import json
import urllib.parse
from dataclasses import dataclass

import boto3
import pyarrow.parquet as pq
import pytest

from .conftest import CORPUS

BUCKETS = {"raw": "energy-raw", "lake": "energy-lake", "quarantine": "energy-quarantine", "dq": "energy-dq"}


@dataclass
class LambdaContext:
    function_name: str = "energy-ingest"
    memory_limit_in_mb: int = 2048
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:energy-ingest"
    aws_request_id: str = "c0ffee00-0000-4000-8000-000000000000"


@pytest.fixture
def s3(moto_endpoint, monkeypatch):
    monkeypatch.setenv("LAKE_URI", f"s3://{BUCKETS['lake']}/lake")
    monkeypatch.setenv("QUARANTINE_URI", f"s3://{BUCKETS['quarantine']}/quarantine")
    monkeypatch.setenv("DQ_URI", f"s3://{BUCKETS['dq']}/dq")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "EnergyLakehouseTest")
    client = boto3.client("s3")
    for bucket in BUCKETS.values():
        try:
            client.create_bucket(Bucket=bucket)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
        for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
    import ingest_lambda.handler as handler_module

    monkeypatch.setattr(handler_module, "_service", None)  # a fresh container per test
    return client


def notification(*keys: str, bucket: str = BUCKETS["raw"]) -> dict:
    """The event an S3 bucket notification sends: keys URL-encoded."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": urllib.parse.quote_plus(key), "size": 1},
                },
            }
            for key in keys
        ]
    }


def keys(client, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def read_parquet(client, bucket, key):
    return pq.read_table(io.BytesIO(client.get_object(Bucket=bucket, Key=key)["Body"].read()))


def test_upload_lands_in_the_lake_with_dq_and_quarantine(s3, capsys):
    import sys

    from ingest_lambda.handler import handler, logger

    # The log handler holds the stdout of the moment it was made; point it at this test's.
    logger._logger.handlers[0].setStream(sys.stdout)

    key = "raw/site a/readings 2024+jan.csv"  # spaces and a plus sign, URL-encoded in the event
    body = (CORPUS / "negative_and_absurd_energy.csv").read_bytes()
    s3.put_object(Bucket=BUCKETS["raw"], Key=key, Body=body)

    result = handler(notification(key), LambdaContext())

    assert result["uploads"] == 1 and result["accepted"] == 1 and result["rejected"] == 0
    report = result["results"][0]
    assert report["source_key"] == key
    assert (report["rows_in"], report["rows_landed"], report["rows_quarantined"]) == (24, 22, 2)
    lake_keys = keys(s3, BUCKETS["lake"])
    assert len(lake_keys) == 1 and lake_keys[0].startswith("lake/readings/ingest_date=")
    landed = read_parquet(s3, BUCKETS["lake"], lake_keys[0])
    assert landed.num_rows == 22 and set(landed["source_key"].to_pylist()) == {key}
    quarantine_keys = keys(s3, BUCKETS["quarantine"])
    assert len(quarantine_keys) == 1 and quarantine_keys[0].startswith("quarantine/rows/")
    assert read_parquet(s3, BUCKETS["quarantine"], quarantine_keys[0]).num_rows == 2
    dq_keys = keys(s3, BUCKETS["dq"])
    assert any(k.startswith("dq/validations/") for k in dq_keys)
    assert f"dq/ingests/{report['ingest_id']}.json" in dq_keys
    assert f"dq/gx_results/{report['ingest_id']}.json" in dq_keys
    # The raw upload is never modified or deleted.
    assert s3.get_object(Bucket=BUCKETS["raw"], Key=key)["Body"].read() == body
    # Structured log line and CloudWatch EMF metrics on stdout.
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    emf = [p for p in printed if "_aws" in p]
    assert emf and emf[-1]["RowsLanded"] == [22.0] and emf[-1]["UploadsAccepted"] == [1.0]
    logs = [p for p in printed if p.get("message") == "ingested upload"]
    assert logs and logs[-1]["rows_quarantined"] == 2 and logs[-1]["function_name"] == "energy-ingest"


def test_every_record_of_an_event_is_ingested(s3):
    from ingest_lambda.handler import handler

    names = ["gzip_upload.csv.gz", "truncated.csv.gz", "mixed_offsets.csv"]
    for name in names:
        s3.put_object(Bucket=BUCKETS["raw"], Key=f"raw/{name}", Body=(CORPUS / name).read_bytes())
    result = handler(notification(*[f"raw/{n}" for n in names]), LambdaContext())
    outcomes = {r["source_key"]: r["outcome"] for r in result["results"]}
    assert outcomes == {"raw/gzip_upload.csv.gz": "accepted", "raw/truncated.csv.gz": "rejected", "raw/mixed_offsets.csv": "accepted"}
    assert (result["accepted"], result["rejected"]) == (2, 1)
    assert len(keys(s3, BUCKETS["lake"])) == 2
    rejected = [k for k in keys(s3, BUCKETS["quarantine"]) if k.startswith("quarantine/files/")]
    assert any(k.endswith("/truncated.csv.gz") for k in rejected) and any(k.endswith("/reason.json") for k in rejected)


def test_redelivered_event_changes_nothing(s3):
    from ingest_lambda.handler import handler

    s3.put_object(Bucket=BUCKETS["raw"], Key="raw/a.csv", Body=(CORPUS / "mixed_offsets.csv").read_bytes())
    first = handler(notification("raw/a.csv"), LambdaContext())
    before = {b: keys(s3, b) for b in BUCKETS.values()}
    again = handler(notification("raw/a.csv"), LambdaContext())
    assert again["results"][0]["outcome"] == "already_ingested"
    assert again["results"][0]["ingest_id"] == first["results"][0]["ingest_id"]
    assert {b: keys(s3, b) for b in BUCKETS.values()} == before


def test_source_configuration_per_prefix(s3, monkeypatch):
    from ingest_lambda.handler import handler

    config = {"defaults": {"timezone": "UTC"}, "sources": [{"prefix": "raw/paris/", "timezone": "Europe/Paris"}]}
    s3.put_object(Bucket=BUCKETS["raw"], Key="config/sources.json", Body=json.dumps(config).encode())
    monkeypatch.setenv("SOURCES_URI", f"s3://{BUCKETS['raw']}/config/sources.json")
    body = (CORPUS / "dst_spring_gap_paris.csv").read_bytes()
    s3.put_object(Bucket=BUCKETS["raw"], Key="raw/paris/day.csv", Body=body)
    s3.put_object(Bucket=BUCKETS["raw"], Key="raw/utc/day.csv", Body=body)
    result = handler(notification("raw/paris/day.csv", "raw/utc/day.csv"), LambdaContext())
    by_key = {r["source_key"]: r for r in result["results"]}
    assert by_key["raw/paris/day.csv"]["rows_quarantined"] == 1  # 02:00 does not exist in Paris that day
    assert by_key["raw/utc/day.csv"]["rows_quarantined"] == 0


def test_a_missing_object_raises_so_lambda_retries(s3):
    from botocore.exceptions import ClientError

    from ingest_lambda.handler import handler

    with pytest.raises(ClientError):
        handler(notification("raw/never-uploaded.csv"), LambdaContext())
    assert keys(s3, BUCKETS["lake"]) == []


def test_eventbridge_object_created_event(s3):
    from ingest_lambda.handler import handler

    s3.put_object(Bucket=BUCKETS["raw"], Key="raw/eb.csv", Body=(CORPUS / "mixed_offsets.csv").read_bytes())
    event = {
        "detail-type": "Object Created",
        "source": "aws.s3",
        "detail": {"bucket": {"name": BUCKETS["raw"]}, "object": {"key": "raw/eb.csv"}},
    }
    assert handler(event, LambdaContext())["accepted"] == 1


def object_created(key: str, bucket: str = BUCKETS["raw"], size: int = 1) -> dict:
    """The event S3 sends to EventBridge for a new object, key as given."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-01-05T00:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": size, "etag": "b1946ac92492d2347c6235b4d2611184", "sequencer": "617f08299329d189"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "reason": "PutObject",
        },
    }


def test_eventbridge_keys_are_found_plain_or_url_encoded(s3):
    """The EventBridge message structure shows keys plain (and does not say they are
    encoded); the Powertools class decodes them. Either form finds the object, and a
    literal '+' or '%' in a key survives."""
    from ingest_lambda.handler import handler

    plain, encoded = "raw/site b/jan+feb 100%.csv", "raw/site b/mar+apr 100%.csv"
    s3.put_object(Bucket=BUCKETS["raw"], Key=plain, Body=(CORPUS / "mixed_offsets.csv").read_bytes())
    s3.put_object(Bucket=BUCKETS["raw"], Key=encoded, Body=(CORPUS / "gzip_upload.csv.gz").read_bytes())

    as_delivered = handler(object_created(plain), LambdaContext())
    url_encoded = handler(object_created(urllib.parse.quote_plus(encoded, safe="/")), LambdaContext())

    assert [r["source_key"] for r in as_delivered["results"] + url_encoded["results"]] == [plain, encoded]
    assert as_delivered["accepted"] == url_encoded["accepted"] == 1
    landed = {k: read_parquet(s3, BUCKETS["lake"], k) for k in keys(s3, BUCKETS["lake"])}
    assert {key for table in landed.values() for key in table["source_key"].to_pylist()} == {plain, encoded}


LONG_SEGMENT = "é" * 200 + ".csv"  # 404 bytes: S3 takes it, no file system takes it as a name


@pytest.mark.parametrize("shape", ["notification", "eventbridge"])
@pytest.mark.parametrize("key", ["raw/site-c/..", f"raw/site-c/{LONG_SEGMENT}"], ids=["dot-dot", "long-segment"])
def test_keys_that_are_no_file_name_are_ingested(s3, shape, key):
    from ingest_lambda.handler import handler

    assert len(key.encode()) <= 1024
    s3.put_object(Bucket=BUCKETS["raw"], Key=key, Body=(CORPUS / "mixed_offsets.csv").read_bytes())
    event = notification(key) if shape == "notification" else object_created(key)

    result = handler(event, LambdaContext())

    assert result["accepted"] == 1 and result["results"][0]["source_key"] == key
    [lake_key] = keys(s3, BUCKETS["lake"])
    assert set(read_parquet(s3, BUCKETS["lake"], lake_key)["source_key"].to_pylist()) == {key}


@pytest.mark.parametrize("shape", ["notification", "eventbridge"])
def test_folder_markers_are_skipped_not_rejected(s3, capsys, shape):
    import sys

    from ingest_lambda.handler import handler, logger

    logger._logger.handlers[0].stream = sys.stdout  # this test's (an earlier test's may be closed)
    marker = "raw/site-d/"  # what "Create folder" in the console puts
    s3.put_object(Bucket=BUCKETS["raw"], Key=marker, Body=b"")
    s3.put_object(Bucket=BUCKETS["raw"], Key="raw/site-d/day.csv", Body=(CORPUS / "mixed_offsets.csv").read_bytes())
    if shape == "notification":
        event = notification(marker, "raw/site-d/day.csv")
        result = handler(event, LambdaContext())
    else:
        result = handler(object_created(marker, size=0), LambdaContext())
        result["results"] += handler(object_created("raw/site-d/day.csv"), LambdaContext())["results"]

    assert [(r["source_key"], r["outcome"]) for r in result["results"]] == [(marker, "skipped"), ("raw/site-d/day.csv", "accepted")]
    assert result["skipped"] == 1 and result["rejected"] == 0
    assert keys(s3, BUCKETS["quarantine"]) == []  # nothing rejected
    assert len([k for k in keys(s3, BUCKETS["dq"]) if k.startswith("dq/ingests/")]) == 2  # the CSV's intent and record
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    emf = [p for p in printed if "_aws" in p]
    assert emf and all("UploadsRejected" not in p for p in emf) and emf[0]["UploadsSkipped"] == [1.0]
    assert any(p.get("message") == "skipped folder marker" and p.get("key") == marker for p in printed)


def test_source_configuration_from_the_ssm_parameter_not_the_raw_bucket(s3, monkeypatch):
    """As deployed: the rules are an SSM parameter; a sources.json a producer puts in the
    raw bucket changes nothing."""
    from ingest_lambda.handler import handler

    ssm = boto3.client("ssm")
    config = {"defaults": {"timezone": "UTC"}, "sources": [{"prefix": "raw/paris/", "timezone": "Europe/Paris"}]}
    ssm.put_parameter(Name="/energy/ingest/sources", Value=json.dumps(config), Type="String", Overwrite=True)
    monkeypatch.setenv("SOURCES_PARAMETER", "/energy/ingest/sources")
    monkeypatch.delenv("SOURCES_URI", raising=False)
    producer = {"sources": [{"prefix": "raw/paris/", "timezone": "UTC"}, {"prefix": "raw/utc/", "timezone": "Europe/Paris"}]}
    s3.put_object(Bucket=BUCKETS["raw"], Key="config/sources.json", Body=json.dumps(producer).encode())
    body = (CORPUS / "dst_spring_gap_paris.csv").read_bytes()
    s3.put_object(Bucket=BUCKETS["raw"], Key="raw/paris/day.csv", Body=body)
    s3.put_object(Bucket=BUCKETS["raw"], Key="raw/utc/day.csv", Body=body)
    try:
        result = handler(notification("raw/paris/day.csv", "raw/utc/day.csv"), LambdaContext())
    finally:
        ssm.delete_parameter(Name="/energy/ingest/sources")
    by_key = {r["source_key"]: r for r in result["results"]}
    assert by_key["raw/paris/day.csv"]["rows_quarantined"] == 1  # 02:00 does not exist in Paris that day
    assert by_key["raw/utc/day.csv"]["rows_quarantined"] == 0
