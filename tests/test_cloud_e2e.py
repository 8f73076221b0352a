"""End to end on a moto server, the way the deployed stack runs: the stack deployed with
`infra.deploy`, a CSV put into raw/, the ingest handler invoked with the event the
bucket's EventBridge rule delivers (and configured from the deployed function), the lake
objects in S3, then the dbt runner handler invoked with a burst of run requests, building
the dbt project on Trino straight from the S3 lake (Trino's native S3 against moto). A
sources.json a producer puts in the raw bucket is not read."""

from __future__ import annotations

import csv
import datetime as dt
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass

import boto3
import pytest

import trino
from infra.deploy import deploy_stack
from sampledata.generator import generate_long_format


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int = 2048
    aws_request_id: str = "c0ffee00-0000-4000-8000-000000000001"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"


def object_created_event(bucket: str, key: str, size: int) -> dict:
    """What S3 sends to EventBridge for a new object."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": size, "etag": uuid.uuid4().hex, "sequencer": "0062E99A88DC407460"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "reason": "PutObject",
        },
    }


def matches_rule(rule_name: str, event: dict) -> bool:
    """Whether the deployed rule's pattern takes the event (moto's EventBridge matcher:
    its TestEventPattern API answers nothing)."""
    from moto.events.models import EventPattern

    pattern = boto3.client("events").describe_rule(Name=rule_name)["EventPattern"]
    return EventPattern.load(pattern).matches_event(event)


def function_environment(name: str) -> dict[str, str]:
    return boto3.client("lambda").get_function_configuration(FunctionName=name)["Environment"]["Variables"]


def test_upload_to_raw_lands_in_the_lake_and_dbt_builds_from_it(moto_endpoint, trino_port, tmp_path, monkeypatch):
    outputs = deploy_stack(
        boto3.client("cloudformation"),
        "energy",
        {"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/energy-lambda:e2e"},
        wait_seconds=60,
    )
    raw_bucket, lake_bucket = outputs["RawBucket"], outputs["LakeBucket"]
    s3 = boto3.client("s3")

    # 1. A producer uploads a file under raw/.
    sample = generate_long_format(tmp_path / "meters.csv", meters=3, days=20, interval_minutes=60, seed=21)
    key = "raw/site-a/meters.csv"
    s3.upload_file(str(sample.data_path), raw_bucket, key)
    event = object_created_event(raw_bucket, key, sample.data_path.stat().st_size)
    assert matches_rule("energy-raw-object-created", event)
    assert not matches_rule("energy-raw-object-created", object_created_event(raw_bucket, "config/sources.json", 10))
    # A producer can write anything into the raw bucket, a sources.json too: the ingest
    # reads its rules from the SSM parameter the stack names (none written here: the
    # defaults), so this one, which would reject every upload, changes nothing.
    s3.put_object(
        Bucket=raw_bucket, Key="config/sources.json", Body=json.dumps({"defaults": {"column_map": {"meter_id": "no_such_column"}}}).encode()
    )

    # 2. The ingest Lambda, configured as deployed, handles the event.
    for name, value in function_environment(outputs["IngestFunction"]).items():
        monkeypatch.setenv(name, value)
    import ingest_lambda.handler as ingest_handler

    monkeypatch.setattr(ingest_handler, "_service", None)
    result = ingest_handler.handler(event, LambdaContext(outputs["IngestFunction"]))
    assert result["results"][0]["outcome"] == "accepted", result
    assert result["results"][0]["rows_landed"] == sample.rows

    listed = s3.list_objects_v2(Bucket=lake_bucket, Prefix="lake/readings/")["Contents"]
    assert len(listed) == 1 and listed[0]["Key"].endswith(".parquet")
    assert s3.list_objects_v2(Bucket=lake_bucket, Prefix="dq/ingests/")["KeyCount"] == 2  # intent + run record
    landed = object_created_event(lake_bucket, listed[0]["Key"], listed[0]["Size"])
    assert matches_rule("energy-lake-object-landed", landed)

    # The lake bucket's events reach the run queue through the deployed rule. A burst:
    # the same object reported twice. (The queue's event source mapping is paused: moto
    # would run the function in Docker; the batch is handed to the handler below.)
    functions = boto3.client("lambda")
    for mapping in functions.list_event_source_mappings(FunctionName=outputs["DbtRunnerFunction"])["EventSourceMappings"]:
        functions.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    events = boto3.client("events")
    for _ in range(2):
        sent = events.put_events(
            Entries=[
                {
                    "Source": "aws.s3",
                    "DetailType": "Object Created",
                    "Detail": json.dumps(landed["detail"]),
                    "Resources": landed["resources"],
                }
            ]
        )
        assert sent["FailedEntryCount"] == 0
    sqs = boto3.client("sqs")
    queue = sqs.get_queue_url(QueueName="energy-dbt-runs.fifo")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    # The burst's two events, and the one S3 itself may send for the ingest's write (the
    # lake bucket sends its events to EventBridge; moto delivers it, or not yet): every
    # message names the landed object, and the runner takes them all as one build.
    assert len(messages) >= 2 and {m["Attributes"]["MessageGroupId"] for m in messages} == {"dbt-build"}
    assert {json.loads(m["Body"])["detail"]["object"]["key"] for m in messages} == {listed[0]["Key"]}
    batch = {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m["Attributes"],
                "eventSource": "aws:sqs",
            }
            for m in messages
        ]
    }

    # 3. The dbt runner takes the burst as one build. The warehouse is Trino here (Athena
    #    cannot run locally); the lake is read from S3 where the ingest put it.
    catalog = f"lake_s3_{uuid.uuid4().hex[:6]}"
    connection = trino.dbapi.connect(host="127.0.0.1", port=int(trino_port), user="energy")
    cursor = connection.cursor()
    cursor.execute(
        f"create catalog {catalog} using hive with ("
        "\"hive.metastore\" = 'file', \"hive.metastore.catalog.dir\" = 'local:///s3-metastore', "
        f"\"fs.native-local.enabled\" = 'true', \"local.location\" = '{tmp_path}', "
        f"\"fs.native-s3.enabled\" = 'true', \"s3.endpoint\" = '{moto_endpoint}', \"s3.region\" = 'us-east-1', "
        "\"s3.path-style-access\" = 'true', \"s3.aws-access-key\" = 'testing', \"s3.aws-secret-key\" = 'testing')"
    )
    cursor.fetchall()
    schema = f"energy_e2e_{uuid.uuid4().hex[:6]}"
    runner_environment = function_environment(outputs["DbtRunnerFunction"])
    for name, value in {
        **runner_environment,
        "ENERGY_DBT_TARGET": "trino",
        "ENERGY_HOME": str(tmp_path / "runner"),
        "TRINO_PORT": trino_port,
        "TRINO_SCHEMA": schema,
        "TRINO_LAKE_CATALOG": catalog,
        "ENERGY_LAKE_LOCATION": f"s3://{lake_bucket}",
    }.items():
        monkeypatch.setenv(name, value)
    from energy.runner import handler as runner

    try:
        built = runner(batch, LambdaContext(outputs["DbtRunnerFunction"]))
        assert built["status"] == "built" and built["requests"] == len(messages) == built["objects"], built
        assert built["counts"].get("error", 0) == 0 and built["counts"].get("fail", 0) == 0

        # 4. The warehouse holds what the CSV says (summed here independently).
        expected: dict[tuple[str, str], float] = defaultdict(float)
        with sample.data_path.open() as handle:
            for row in csv.DictReader(handle):
                expected[(row["meter_id"], row["timestamp"][:10])] += float(row["value"])
        cursor.execute(f"select meter_id, cast(reading_date as varchar), total_kwh from iceberg.{schema}.fct_daily_consumption")
        got = {(meter, day): kwh for meter, day, kwh in cursor.fetchall()}
        assert got.keys() == expected.keys()
        for day, kwh in expected.items():
            assert got[day] == pytest.approx(kwh, rel=1e-9)

        # 5. The weekly schedule's request (an EventBridge Scheduled Event, through the same
        #    queue): the runner compacts and expires the Iceberg tables, builds nothing, and
        #    no row changes.
        weekly = {
            "Records": [
                {
                    "messageId": "weekly",
                    "eventSource": "aws:sqs",
                    "body": json.dumps({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}),
                }
            ]
        }
        maintained = runner(weekly, LambdaContext(outputs["DbtRunnerFunction"]))
        assert maintained["status"] == "maintained", maintained
        cursor.execute(f"select meter_id, cast(reading_date as varchar), total_kwh from iceberg.{schema}.fct_daily_consumption")
        assert {(meter, day): kwh for meter, day, kwh in cursor.fetchall()} == got
    finally:
        for statement in (
            f"drop schema if exists iceberg.{schema} cascade",
            f"drop schema if exists {catalog}.{schema}_lake cascade",
            f"drop catalog {catalog}",
        ):
            cursor.execute(statement)
            cursor.fetchall()
