"""The AWS stack: cfn-lint and checkov clean, the properties that matter asserted on the
template, and the stack deployed into a moto server over HTTP with `infra.deploy`.

moto's CloudFormation creates buckets (with their encryption), the key (with its
policy), IAM roles and their policies, Lambda functions, queues, rules, log groups, the
event source mapping, the topic and the dashboard. It skips bucket and queue policies,
Glue (and the catalog's encryption), Athena and alarms, ignores some bucket properties
(versioning, public access block, notifications, lifecycle), and evaluates no bucket
policy: those are asserted on the template, which cfn-lint validates against the AWS
schemas; the Deny statements of the bucket and queue policies are evaluated here for the
requests that matter (who may write, with which key, over which transport).
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from infra.deploy import deploy_stack
from infra.deploy import main as deploy_main
from infra.stack import INFRA, QUERIES, template, template_body

from .conftest import REPO

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/energy-lambda:test"
DATA_BUCKETS = ("RawBucket", "LakeBucket", "WarehouseBucket", "AthenaResultsBucket")


@pytest.fixture(scope="module")
def packaged(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("infra") / "template.json"
    path.write_text(template_body())
    return path


def resources_of(document: dict, kind: str) -> dict[str, dict]:
    return {name: r for name, r in document["Resources"].items() if r["Type"] == kind}


def actions(statement: dict) -> list[str]:
    value = statement.get("Action", [])
    return [value] if isinstance(value, str) else value


def test_cfn_lint_is_clean(packaged):
    done = subprocess.run([str(Path(sys.executable).with_name("cfn-lint")), str(packaged)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_checkov_finds_nothing_unexplained(packaged):
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    done = subprocess.run(
        [
            uv,
            "tool",
            "run",
            "--quiet",
            "--from",
            "checkov==3.3.30",
            "checkov",
            "-f",
            str(packaged),
            "--framework",
            "cloudformation",
            "--skip-download",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(done.stdout)
    summary = report["summary"]
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert summary["failed"] == 0, failed
    assert summary["passed"] >= 60
    # Every skip carries its reason in the template.
    for check in report["results"]["skipped_checks"]:
        assert len(check["check_result"].get("suppress_comment", "")) > 20, check["check_id"]


def test_iam_policies_name_actions_and_scope_resources():
    document = template()
    roles = resources_of(document, "AWS::IAM::Role")
    assert set(roles) == {"IngestRole", "DbtRunnerRole"}
    for name, role in roles.items():
        for policy in role["Properties"]["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                assert not [a for a in actions(statement) if "*" in a], (name, statement)
                resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                assert "*" not in resources, (name, statement)
    ingest = json.dumps(roles["IngestRole"])
    assert "athena:" not in ingest and "glue:" not in ingest  # the ingest never queries
    runner = json.dumps(roles["DbtRunnerRole"])
    assert "s3:PutObject" in runner and "/raw/" not in runner  # dbt never touches uploads


def test_buckets_are_encrypted_private_tls_only_with_lifecycles():
    document = template()
    buckets = resources_of(document, "AWS::S3::Bucket")
    policies = {p["Properties"]["Bucket"]["Ref"]: p for p in resources_of(document, "AWS::S3::BucketPolicy").values()}
    for name, bucket in buckets.items():
        properties = bucket["Properties"]
        assert all(properties["PublicAccessBlockConfiguration"].values()), name
        assert properties["LifecycleConfiguration"]["Rules"], name
        deny = [s for s in policies[name]["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, name
    for name in DATA_BUCKETS:
        encryption = buckets[name]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", name
        assert "LoggingConfiguration" in buckets[name]["Properties"], name
    assert buckets["RawBucket"]["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert buckets["RawBucket"]["Properties"]["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"]
    # Data survives `make destroy` unless asked.
    for name in ("RawBucket", "LakeBucket", "WarehouseBucket"):
        assert buckets[name]["DeletionPolicy"] == "Retain"


def test_catalog_workgroup_alarms_and_saved_queries():
    document = template()
    readings = document["Resources"]["LakeReadingsTable"]["Properties"]["TableInput"]
    assert readings["Parameters"]["projection.enabled"] == "true"
    assert readings["Parameters"]["projection.ingest_date.type"] == "date"
    assert "ingest_date=${!ingest_date}" in json.dumps(readings["Parameters"]["storage.location.template"])
    assert [c["Name"] for c in readings["StorageDescriptor"]["Columns"]][:4] == ["meter_id", "reading_start", "interval_minutes", "kwh"]
    workgroup = document["Resources"]["AthenaWorkGroup"]["Properties"]["WorkGroupConfiguration"]
    assert workgroup["EnforceWorkGroupConfiguration"] is True
    assert workgroup["BytesScannedCutoffPerQuery"] == {"Ref": "AthenaBytesScannedCutoff"}
    assert workgroup["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    alarms = {
        a["Properties"]["MetricName"] + ":" + json.dumps(a["Properties"]["Dimensions"])
        for a in resources_of(document, "AWS::CloudWatch::Alarm").values()
    }
    assert any("Errors" in a and "IngestFunction" in a for a in alarms)
    assert any("Errors" in a and "DbtRunnerFunction" in a for a in alarms)
    assert any("ApproximateNumberOfMessagesVisible" in a and "IngestDeadLetterQueue" in a for a in alarms)
    assert any("ApproximateNumberOfMessagesVisible" in a and "DbtRunDeadLetterQueue" in a for a in alarms)
    queries = resources_of(document, "AWS::Athena::NamedQuery")
    files = sorted(QUERIES.glob("*.sql"))
    assert len(queries) == len(files) == 5
    assert sorted(q["Properties"]["QueryString"] for q in queries.values()) == sorted(f.read_text() for f in files)


def test_the_ingest_retries_then_keeps_failed_events():
    document = template()["Resources"]
    function = document["IngestFunction"]["Properties"]
    assert function["PackageType"] == "Image"
    assert function["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": ["IngestDeadLetterQueue", "Arn"]}}
    invoke = document["IngestInvokeConfig"]["Properties"]
    assert invoke["MaximumRetryAttempts"] == 2
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["IngestDeadLetterQueue", "Arn"]}
    target = document["RawObjectCreatedRule"]["Properties"]["Targets"][0]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0 and "DeadLetterConfig" in target


def test_the_dockerfile_copies_what_the_entry_points_import():
    dockerfile = (INFRA / "Dockerfile").read_text()
    for source in ("ingest_lambda/", "energy/", "expectations/", "dbt_project/", "data/sampledata/", "uv.lock"):
        assert f"{source}" in dockerfile and (REPO / source.rstrip("/")).exists(), source
    commands = {r["Properties"]["ImageConfig"]["Command"][0] for r in resources_of(template(), "AWS::Lambda::Function").values()}
    assert commands == {"ingest_lambda.handler.handler", "energy.runner.handler"}
    import importlib

    for command in commands:
        module, function = command.rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), function))


@pytest.fixture(scope="module")
def deployed(moto_endpoint):
    outputs = deploy_stack(boto3.client("cloudformation"), "energy", {"ImageUri": IMAGE}, wait_seconds=60)
    return outputs


def test_the_stack_deploys_into_moto(deployed):
    # (moto skips the Athena and Glue resources, so their outputs are absent there)
    for name in ("RawBucket", "LakeBucket", "WarehouseBucket", "IngestFunction", "DbtRunnerFunction", "DashboardUrl"):
        assert deployed.get(name), name
    status = boto3.client("cloudformation").describe_stacks(StackName="energy")["Stacks"][0]["StackStatus"]
    assert status == "CREATE_COMPLETE"


def test_deployed_buckets_are_encrypted_with_the_stack_key(deployed):
    s3 = boto3.client("s3")
    key_arns = {k["KeyArn"] for k in boto3.client("kms").list_keys()["Keys"]}
    for output in ("RawBucket", "LakeBucket", "WarehouseBucket", "AthenaResultsBucket"):
        rule = s3.get_bucket_encryption(Bucket=deployed[output])["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] in key_arns


def test_deployed_roles_have_no_wildcard_actions(deployed):
    iam = boto3.client("iam")
    for role in ("energy-ingest", "energy-dbt-runner"):
        names = iam.list_role_policies(RoleName=role)["PolicyNames"]
        assert names, role
        for name in names:
            document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            if isinstance(document, str):  # moto hands back the Python repr of what CloudFormation gave it
                document = ast.literal_eval(document) if document.startswith("{'") else json.loads(document)
            for statement in document["Statement"]:
                assert not [a for a in actions(statement) if "*" in a], (role, statement)
                resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                assert all(r.startswith("arn:aws:") for r in resources), (role, statement)
                assert all("*" not in r.split(":::")[-1].split("/")[0] for r in resources), (role, statement)


def test_deployed_functions_queues_and_rules(deployed):
    functions = boto3.client("lambda")
    ingest = functions.get_function(FunctionName=deployed["IngestFunction"])
    configuration = ingest["Configuration"]
    assert ingest["Code"]["RepositoryType"] == "ECR" and ingest["Code"]["ImageUri"] == IMAGE
    assert configuration["Timeout"] == 900 and configuration["MemorySize"] == 3008
    assert configuration["Environment"]["Variables"]["LAKE_URI"] == f"s3://{deployed['LakeBucket']}/lake"
    assert ingest["Concurrency"]["ReservedConcurrentExecutions"] == 10
    runner = functions.get_function(FunctionName=deployed["DbtRunnerFunction"])
    assert runner["Concurrency"]["ReservedConcurrentExecutions"] == 1
    assert runner["Configuration"]["Environment"]["Variables"]["ENERGY_DBT_TARGET"] == "athena"
    mappings = functions.list_event_source_mappings(FunctionName=deployed["DbtRunnerFunction"])["EventSourceMappings"]
    assert [m["EventSourceArn"].rsplit(":", 1)[-1] for m in mappings] == ["energy-dbt-runs.fifo"]

    sqs = boto3.client("sqs")
    runs = sqs.get_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName="energy-dbt-runs.fifo")["QueueUrl"], AttributeNames=["All"])[
        "Attributes"
    ]
    assert runs["FifoQueue"] == "true" and json.loads(runs["RedrivePolicy"])["maxReceiveCount"] == 3
    assert runs["KmsMasterKeyId"]

    events = boto3.client("events")
    rule = events.describe_rule(Name="energy-raw-object-created")
    pattern = json.loads(rule["EventPattern"])
    assert pattern["detail"]["bucket"]["name"] == [deployed["RawBucket"]]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "raw/"}]
    targets = events.list_targets_by_rule(Rule="energy-raw-object-created")["Targets"]
    assert targets[0]["Arn"].endswith(":function:energy-ingest")
    assert targets[0]["DeadLetterConfig"]["Arn"].endswith(":energy-ingest-dlq")

    logs = boto3.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/energy-")["logGroups"]
    assert {g["logGroupName"]: g["retentionInDays"] for g in logs} == {"/aws/lambda/energy-ingest": 90, "/aws/lambda/energy-dbt-runner": 90}


def test_deploy_refuses_without_credentials(monkeypatch, capsys, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert deploy_main(["deploy", "--image-uri", IMAGE]) == 2
    assert "no usable AWS credentials" in capsys.readouterr().err


def test_deploy_refuses_without_docker(moto_endpoint, monkeypatch, capsys):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert deploy_main(["deploy", "--stack", "energy-nodocker"]) == 2
    assert "Docker is needed" in capsys.readouterr().err


def test_cost_model_lines_follow_from_their_inputs():
    from infra.cost_model import (
        CALIBRATION_BYTES,
        DAILY_BYTES,
        MAINTENANCE_BYTES,
        SCENARIOS,
        WEEKS_PER_MONTH,
        Prices,
        estimate,
        meters_every_15_minutes,
        render,
    )

    meters = estimate(SCENARIOS[2])
    assert SCENARIOS[2].name.startswith("10,000 meters")
    lines = {line.item: line.usd for line in meters.lines}
    # Athena by hand: 300 builds (ten files a day), each reading DAILY_BYTES per reading of
    # 10,000 x 96 x 182 readings (its calibration phase included); the weekly maintenance;
    # plus 200 analyst queries of 200 MB, at $5 per TB.
    readings = 10_000 * 96 * 182
    by_hand = (300 * readings * DAILY_BYTES + WEEKS_PER_MONTH * readings * MAINTENANCE_BYTES + 200 * 200e6) / 1e12 * 5
    assert lines["Athena"] == pytest.approx(by_hand)
    # The runner: 300 runs x 240 s x 2 GB at the GB-second price.
    assert lines["Lambda dbt runner"] == pytest.approx(300 * 240 * 2 * Prices().lambda_gb_second)
    assert meters.total == pytest.approx(sum(lines.values()))
    # Coalescing ten uploads per run cuts the builds' share tenfold.
    coalesced = {line.item: line.usd for line in estimate(meters_every_15_minutes(10_000, 10)).lines}
    assert coalesced["Lambda dbt runner"] == pytest.approx(lines["Lambda dbt runner"] / 10)
    assert [w.name.split(" meters")[0] for w in SCENARIOS[1:]] == ["1,000", "10,000", "100,000"]
    assert "seed: 100 uploads" in render([estimate(SCENARIOS[0])])
    # The seed's month-long uploads move every meter's week: each run also calibrates the
    # six other phases (at least Athena's 10 MB per query for its own builds' queries).
    seed = SCENARIOS[0]
    seed_athena = {line.item: line.usd for line in estimate(seed).lines}["Athena"]
    seed_readings = seed.readings_in_warehouse
    per_run = max(seed_readings * DAILY_BYTES, seed.dbt_queries_per_run * Prices().athena_minimum_bytes_per_query)
    seed_by_hand = (
        (100 * (per_run + seed_readings * CALIBRATION_BYTES * 6 / 7) + WEEKS_PER_MONTH * seed_readings * MAINTENANCE_BYTES + 200 * 200e6)
        / 1e12
        * 5
    )
    assert seed_athena == pytest.approx(seed_by_hand)


def test_destroy_keeps_the_data_unless_asked(moto_endpoint):
    from infra.deploy import destroy_stack

    session = boto3.session.Session()
    for delete_data in (False, True):
        stack = f"energy-destroy-{int(delete_data)}"
        outputs = deploy_stack(
            session.client("cloudformation"), stack, {"ImageUri": IMAGE, "ProjectName": f"gone{int(delete_data)}"}, wait_seconds=60
        )
        session.client("s3").put_object(Bucket=outputs["RawBucket"], Key="raw/site/readings.csv", Body=b"m,t,v\n")
        kept = destroy_stack(session, stack, delete_data=delete_data)
        buckets = {b["Name"] for b in session.client("s3").list_buckets()["Buckets"]}
        assert outputs["AthenaResultsBucket"] not in buckets  # disposable, always removed
        if delete_data:
            assert kept == [] and outputs["RawBucket"] not in buckets and outputs["LakeBucket"] not in buckets
        else:
            assert {outputs["RawBucket"], outputs["LakeBucket"], outputs["WarehouseBucket"]} <= set(kept) <= buckets
            body = session.client("s3").get_object(Bucket=outputs["RawBucket"], Key="raw/site/readings.csv")["Body"]
            assert body.read() == b"m,t,v\n"


# ---------------------------------------------------------------- who may write, read and decrypt
ACCOUNT = "123456789012"
ROLE = {"IngestRole": f"arn:aws:iam::{ACCOUNT}:role/energy-ingest", "DbtRunnerRole": f"arn:aws:iam::{ACCOUNT}:role/energy-dbt-runner"}
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/stack-key"
PRODUCER = f"arn:aws:iam::{ACCOUNT}:role/producer-with-s3-put-star"


def resolve(value, document: dict):
    """The template's intrinsics made concrete for account 123456789012, us-east-1, project
    "energy" (what a policy evaluation needs: ARNs and names)."""

    def arn_of(name: str) -> str:
        kind = document["Resources"][name]["Type"]
        if kind == "AWS::S3::Bucket":
            return "arn:aws:s3:::" + resolve(document["Resources"][name]["Properties"]["BucketName"], document)
        if kind == "AWS::IAM::Role":
            return ROLE[name]
        if kind == "AWS::KMS::Key":
            return KEY_ARN
        if kind == "AWS::SQS::Queue":
            return f"arn:aws:sqs:us-east-1:{ACCOUNT}:" + resolve(document["Resources"][name]["Properties"]["QueueName"], document)
        if kind == "AWS::Events::Rule":
            return f"arn:aws:events:us-east-1:{ACCOUNT}:rule/" + resolve(document["Resources"][name]["Properties"]["Name"], document)
        return f"arn:aws:{kind}:{name}"  # not needed concrete here

    def ref(name: str) -> str:
        fixed = {"AWS::AccountId": ACCOUNT, "AWS::Region": "us-east-1", "AWS::Partition": "aws", "ProjectName": "energy"}
        if name in fixed:
            return fixed[name]
        resource = document["Resources"][name]
        if resource["Type"] == "AWS::S3::Bucket":
            return resolve(resource["Properties"]["BucketName"], document)
        if resource["Type"] == "AWS::Glue::Database":
            return resolve(resource["Properties"]["DatabaseInput"]["Name"], document)
        return name

    if isinstance(value, list):
        return [resolve(v, document) for v in value]
    if isinstance(value, dict):
        if "Ref" in value:
            return ref(value["Ref"])
        if "Fn::GetAtt" in value:
            name, attribute = value["Fn::GetAtt"]
            assert attribute == "Arn", attribute
            return arn_of(name)
        if "Fn::Sub" in value:
            import re

            def substitute(match):
                name = match.group(1)
                return arn_of(name[:-4]) if name.endswith(".Arn") else ref(name)

            return re.sub(r"\$\{([^}!]+)\}", substitute, value["Fn::Sub"])
        return {k: resolve(v, document) for k, v in value.items()}
    return value


def condition_holds(condition: dict, context: dict) -> bool:
    """The IAM condition operators these policies use, with IAM's rule for a key missing
    from the request (a negated operator then holds)."""
    import fnmatch

    for operator, tests in condition.items():
        for key, expected in tests.items():
            expected = expected if isinstance(expected, list) else [expected]
            present = key in context
            value = context.get(key)
            if operator == "Null":
                holds = (not present) == (expected[0] == "true")
            elif operator in ("ArnNotEquals", "StringNotEquals"):
                holds = not present or value not in expected
            elif operator in ("ArnEquals", "StringEquals"):
                holds = present and value in expected
            elif operator in ("ArnLike", "StringLike"):
                holds = present and any(fnmatch.fnmatchcase(value, pattern) for pattern in expected)
            elif operator == "Bool":
                holds = present and str(value).lower() == expected[0]
            else:
                raise AssertionError(f"operator {operator} not modelled")
            if not holds:
                return False
    return True


def denied_by(policy: dict, action: str, resource: str, context: dict) -> list[str]:
    """Sids of the Deny statements that apply to the request."""
    import fnmatch

    sids = []
    for statement in policy["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if (
            statement["Effect"] == "Deny"
            and statement.get("Principal") == "*"
            and any(fnmatch.fnmatchcase(action, a) for a in actions(statement))
            and any(fnmatch.fnmatchcase(resource, r) for r in resources)
            and condition_holds(statement.get("Condition", {}), context)
        ):
            sids.append(statement["Sid"])
    return sids


def bucket_policy(document: dict, bucket: str) -> dict:
    for resource in document["Resources"].values():
        if resource["Type"] == "AWS::S3::BucketPolicy" and resource["Properties"]["Bucket"] == {"Ref": bucket}:
            return resolve(resource["Properties"]["PolicyDocument"], document)
    raise KeyError(bucket)


@pytest.mark.parametrize("bucket, writer", [("LakeBucket", "IngestRole"), ("WarehouseBucket", "DbtRunnerRole")])
def test_only_its_role_writes_the_lake_or_the_warehouse(bucket, writer):
    document = template()
    policy = bucket_policy(document, bucket)
    name = resolve(document["Resources"][bucket]["Properties"]["BucketName"], document)
    tls = {"aws:SecureTransport": "true"}
    others = [PRODUCER, *(arn for role, arn in ROLE.items() if role != writer), f"arn:aws:iam::{ACCOUNT}:root"]
    for action in ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"):
        resource = f"arn:aws:s3:::{name}/lake/readings/ingest_date=2026-01-05/x.parquet"
        assert not denied_by(policy, action, resource, {**tls, "aws:PrincipalArn": ROLE[writer]}), action
        for principal in others:
            assert denied_by(policy, action, resource, {**tls, "aws:PrincipalArn": principal}), (action, principal)
    # Athena writes the warehouse's Iceberg files with the runner's credentials.
    if bucket == "WarehouseBucket":
        via_athena = {**tls, "aws:PrincipalArn": ROLE[writer], "aws:CalledVia": ["athena.amazonaws.com"]}
        assert not denied_by(policy, "s3:PutObject", f"arn:aws:s3:::{name}/tables/fct/data/a.parquet", via_athena)
    # Reading stays with the identity policies.
    assert not denied_by(policy, "s3:GetObject", f"arn:aws:s3:::{name}/x", {**tls, "aws:PrincipalArn": PRODUCER})
    assert not [s for s in policy["Statement"] if s["Effect"] == "Allow"], "nothing is granted by the bucket"


@pytest.mark.parametrize("bucket", DATA_BUCKETS)
def test_puts_naming_another_key_or_encryption_are_refused(bucket):
    document = template()
    policy = bucket_policy(document, bucket)
    writer = ROLE["DbtRunnerRole"] if bucket in ("WarehouseBucket", "AthenaResultsBucket") else ROLE["IngestRole"]
    name = resolve(document["Resources"][bucket]["Properties"]["BucketName"], document)
    resource = f"arn:aws:s3:::{name}/raw/a.csv"
    base = {"aws:SecureTransport": "true", "aws:PrincipalArn": writer}
    header = "s3:x-amz-server-side-encryption-aws-kms-key-id"
    assert not denied_by(policy, "s3:PutObject", resource, base)  # the bucket default applies
    assert not denied_by(policy, "s3:PutObject", resource, {**base, "s3:x-amz-server-side-encryption": "aws:kms", header: KEY_ARN})
    other_key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/someone-elses"
    assert denied_by(policy, "s3:PutObject", resource, {**base, "s3:x-amz-server-side-encryption": "aws:kms", header: other_key})
    assert denied_by(policy, "s3:PutObject", resource, {**base, "s3:x-amz-server-side-encryption": "AES256"})


def test_the_source_configuration_is_out_of_producers_reach():
    document = template()
    resources = document["Resources"]
    variables = resources["IngestFunction"]["Properties"]["Environment"]["Variables"]
    assert "SOURCES_URI" not in variables
    parameter = resolve(variables["SOURCES_PARAMETER"], document)
    assert parameter == "/energy/ingest/sources"
    statements = resolve(resources["IngestRole"]["Properties"]["Policies"][0]["PolicyDocument"], document)["Statement"]
    reads = [s for s in statements if "ssm:GetParameter" in actions(s)]
    assert [(actions(s), s["Resource"]) for s in reads] == [(["ssm:GetParameter"], f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter{parameter}")]
    raw = resolve({"Fn::GetAtt": ["RawBucket", "Arn"]}, document)
    raw_objects = [
        r for s in statements for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]) if r.startswith(raw + "/")
    ]
    assert raw_objects == [f"{raw}/raw/*"]  # uploads only
    assert resolve(document["Outputs"]["SourcesParameter"]["Value"], document) == parameter


def test_the_runner_only_reads_the_lake_catalog():
    document = template()
    statements = resolve(
        resources_of(document, "AWS::IAM::Role")["DbtRunnerRole"]["Properties"]["Policies"][0]["PolicyDocument"], document
    )["Statement"]
    lake = f"arn:aws:glue:us-east-1:{ACCOUNT}:database/energy_lake"
    lake_tables = f"arn:aws:glue:us-east-1:{ACCOUNT}:table/energy_lake/*"
    warehouse_tables = f"arn:aws:glue:us-east-1:{ACCOUNT}:table/energy/*"
    writes = {
        "glue:CreateTable",
        "glue:UpdateTable",
        "glue:DeleteTable",
        "glue:BatchDeleteTableVersion",
        "glue:CreateDatabase",
        "glue:UpdateDatabase",
        "glue:DeleteDatabase",
        "glue:CreatePartition",
        "glue:BatchCreatePartition",
        "glue:UpdatePartition",
        "glue:DeletePartition",
    }
    granted: dict[str, set[str]] = {}
    for statement in statements:
        for resource in statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]:
            granted.setdefault(resource, set()).update(a for a in actions(statement) if a.startswith("glue:"))
    assert not granted[lake] & writes and not granted[lake_tables] & writes
    assert {"glue:GetTable", "glue:GetPartitions"} <= granted[lake_tables]
    assert {"glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable"} <= granted[warehouse_tables]


def test_services_use_the_key_and_deliver_logs_for_this_stack_only():
    document = template()
    key_policy = resolve(document["Resources"]["DataKey"]["Properties"]["KeyPolicy"], document)
    services = [s for s in key_policy["Statement"] if "Service" in s.get("Principal", {})]
    assert {json.dumps(s["Principal"]["Service"]) for s in services} == {
        '"logs.us-east-1.amazonaws.com"',
        '"events.amazonaws.com"',
        '"cloudwatch.amazonaws.com"',
    }
    for statement in services:
        condition = statement["Condition"]
        assert condition["StringEquals"]["aws:SourceAccount"] == ACCOUNT, statement["Sid"]
        assert condition["ArnLike"]["aws:SourceArn"].startswith("arn:aws:"), statement["Sid"]
        assert f":{ACCOUNT}:" in condition["ArnLike"]["aws:SourceArn"] and "energy-" in condition["ArnLike"]["aws:SourceArn"]
        # And so a resource of another stack, or of another account, is refused.
        ours = condition["ArnLike"]["aws:SourceArn"].replace("*", "x")
        for other in (ours.replace("energy-", "other-"), ours.replace(ACCOUNT, "210987654321")):
            context = {key: other for key in condition["ArnLike"]}
            assert condition_holds({"ArnLike": condition["ArnLike"]}, {key: ours for key in condition["ArnLike"]})
            assert not condition_holds({"ArnLike": condition["ArnLike"]}, context), (statement["Sid"], other)
    logs = bucket_policy(document, "AccessLogsBucket")
    delivery = next(s for s in logs["Statement"] if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"})
    assert delivery["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    assert sorted(delivery["Condition"]["ArnLike"]["aws:SourceArn"]) == sorted(
        resolve({"Fn::GetAtt": [b, "Arn"]}, document) for b in DATA_BUCKETS
    )


def test_queues_are_tls_only_and_run_requests_have_a_dead_letter_queue():
    document = template()
    resources = document["Resources"]
    queues = resources_of(document, "AWS::SQS::Queue")
    [queue_policy] = resources_of(document, "AWS::SQS::QueuePolicy").values()
    assert sorted(q["Ref"] for q in queue_policy["Properties"]["Queues"]) == sorted(queues)
    policy = resolve(queue_policy["Properties"]["PolicyDocument"], document)
    for name in queues:
        arn = resolve({"Fn::GetAtt": [name, "Arn"]}, document)
        assert denied_by(policy, "sqs:SendMessage", arn, {"aws:SecureTransport": "false"}) == ["TlsOnly"], name
        assert not denied_by(policy, "sqs:SendMessage", arn, {"aws:SecureTransport": "true"}), name
    [target] = resources["LakeObjectLandedRule"]["Properties"]["Targets"]
    dead_letters = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    assert not queues[dead_letters]["Properties"].get("FifoQueue")  # EventBridge takes standard queues only
    allowed = [
        s
        for s in policy["Statement"]
        if s["Effect"] == "Allow" and s["Resource"] == resolve({"Fn::GetAtt": [dead_letters, "Arn"]}, document)
    ]
    assert [s["Condition"]["ArnEquals"]["aws:SourceArn"] for s in allowed] == [
        [resolve({"Fn::GetAtt": [rule, "Arn"]}, document) for rule in ("LakeObjectLandedRule", "WeeklyMaintenanceRule")]
    ]
    # the weekly maintenance request goes through the same FIFO group: it never overlaps a build
    [maintenance] = resources["WeeklyMaintenanceRule"]["Properties"]["Targets"]
    assert maintenance["Arn"] == target["Arn"] and maintenance["SqsParameters"] == target["SqsParameters"]
    assert maintenance["DeadLetterConfig"] == target["DeadLetterConfig"]
    alarmed = [a["Properties"]["Dimensions"][0]["Value"] for a in resources_of(document, "AWS::CloudWatch::Alarm").values()]
    assert {"Fn::GetAtt": [dead_letters, "QueueName"]} in alarmed


def test_catalog_encrypted_and_daily_scans_alarmed():
    document = template()
    [settings] = resources_of(document, "AWS::Glue::DataCatalogEncryptionSettings").values()
    encryption = settings["Properties"]["DataCatalogEncryptionSettings"]
    assert encryption["EncryptionAtRest"] == {"CatalogEncryptionMode": "SSE-KMS", "SseAwsKmsKeyId": {"Fn::GetAtt": ["DataKey", "Arn"]}}
    assert encryption["ConnectionPasswordEncryption"]["ReturnConnectionPasswordEncrypted"] is True
    runner = json.dumps(resources_of(document, "AWS::IAM::Role")["DbtRunnerRole"])
    assert "kms:Encrypt" in runner  # writing table metadata to the encrypted catalog
    daily = [
        a["Properties"] for a in resources_of(document, "AWS::CloudWatch::Alarm").values() if a["Properties"]["Namespace"] == "AWS/Athena"
    ]
    assert [(a["MetricName"], a["Statistic"], a["Period"], a["Dimensions"]) for a in daily] == [
        ("ProcessedBytes", "Sum", 86400, [{"Name": "WorkGroup", "Value": {"Ref": "AthenaWorkGroup"}}])
    ]
    assert daily[0]["Threshold"] == {"Ref": "AthenaDailyBytesScannedLimit"} and daily[0]["AlarmActions"]


def test_deployed_key_policy_pins_the_services(deployed):
    kms = boto3.client("kms")
    key_id = next(a["TargetKeyId"] for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/energy-data")
    policy = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    if isinstance(policy, str):  # moto may hand back the Python repr of what CloudFormation gave it
        policy = ast.literal_eval(policy) if policy.startswith("{'") else json.loads(policy)
    services = [s for s in policy["Statement"] if "Service" in s.get("Principal", {})]
    assert len(services) == 3
    for statement in services:
        assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT, statement
        assert f":{ACCOUNT}:" in statement["Condition"]["ArnLike"]["aws:SourceArn"], statement


def test_deployed_runner_ingest_and_rules(deployed):
    iam = boto3.client("iam")

    def statements(role: str) -> list[dict]:
        found = []
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            if isinstance(document, str):
                document = ast.literal_eval(document) if document.startswith("{'") else json.loads(document)
            found += document["Statement"]
        return found

    for statement in statements("energy-dbt-runner"):
        if {"glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable"} & set(actions(statement)):
            assert not [r for r in statement["Resource"] if "energy_lake" in r], statement
    ssm = [s for s in statements("energy-ingest") if "ssm:GetParameter" in actions(s)]
    assert [s["Resource"] for s in ssm] == [f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/energy/ingest/sources"]
    variables = boto3.client("lambda").get_function_configuration(FunctionName=deployed["IngestFunction"])["Environment"]["Variables"]
    assert variables["SOURCES_PARAMETER"] == deployed["SourcesParameter"] == "/energy/ingest/sources"
    assert "SOURCES_URI" not in variables
    [target] = boto3.client("events").list_targets_by_rule(Rule="energy-lake-object-landed")["Targets"]
    assert target["DeadLetterConfig"]["Arn"].endswith(":energy-run-requests-dlq")
    sqs = boto3.client("sqs")
    dead_letters = sqs.get_queue_attributes(
        QueueUrl=sqs.get_queue_url(QueueName="energy-run-requests-dlq")["QueueUrl"], AttributeNames=["All"]
    )["Attributes"]
    assert dead_letters["KmsMasterKeyId"] and dead_letters.get("FifoQueue", "false") == "false"


def test_deploy_writes_the_source_configuration(moto_endpoint, tmp_path, capsys):
    sources = tmp_path / "sources.json"
    sources.write_text(json.dumps({"defaults": {"timezone": "Europe/Paris"}}))
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"defaults": {"timezone": "Mars/Olympus"}}))
    args = ["deploy", "--stack", "energy-sources", "--project", "srcs", "--image-uri", IMAGE]

    assert deploy_main([*args, "--sources", str(broken)]) == 2  # refused before anything is deployed
    assert "unknown timezone" in capsys.readouterr().err
    ssm = boto3.client("ssm")
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name="/srcs/ingest/sources")

    assert deploy_main([*args, "--sources", str(sources)]) == 0
    assert ssm.get_parameter(Name="/srcs/ingest/sources")["Parameter"]["Value"] == sources.read_text()

    # A sources.json an earlier stack read from the raw bucket is reported, not read.
    raw = boto3.client("cloudformation").describe_stacks(StackName="energy-sources")["Stacks"][0]["Outputs"]
    raw = next(o["OutputValue"] for o in raw if o["OutputKey"] == "RawBucket")
    boto3.client("s3").put_object(Bucket=raw, Key="config/sources.json", Body=b"{}")
    capsys.readouterr()
    assert deploy_main(args) == 0
    assert "config/sources.json is no longer read" in capsys.readouterr().err
