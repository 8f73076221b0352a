"""The AWS stack: cfn-lint and checkov clean, the properties that matter asserted on the
template, and the stack deployed into a moto server over HTTP with `infra.deploy`.

moto's CloudFormation creates buckets (with their encryption), IAM roles and their
policies, Lambda functions, queues, rules, log groups, the event source mapping, the
topic and the dashboard. It skips bucket policies, Glue, Athena and alarms and ignores
some bucket properties (versioning, public access block, notifications, lifecycle):
those are asserted on the template, which cfn-lint validates against the AWS schemas.
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

from infra.deploy import deploy_stack, main as deploy_main
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
        [uv, "tool", "run", "--quiet", "--from", "checkov==3.3.30", "checkov", "-f", str(packaged),
         "--framework", "cloudformation", "--skip-download", "-o", "json"],
        capture_output=True, text=True, timeout=600,
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
    assert [c["Name"] for c in readings["StorageDescriptor"]["Columns"]][:4] == \
        ["meter_id", "reading_start", "interval_minutes", "kwh"]
    workgroup = document["Resources"]["AthenaWorkGroup"]["Properties"]["WorkGroupConfiguration"]
    assert workgroup["EnforceWorkGroupConfiguration"] is True
    assert workgroup["BytesScannedCutoffPerQuery"] == {"Ref": "AthenaBytesScannedCutoff"}
    assert workgroup["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    alarms = {a["Properties"]["MetricName"] + ":" + json.dumps(a["Properties"]["Dimensions"])
              for a in resources_of(document, "AWS::CloudWatch::Alarm").values()}
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
    commands = {r["Properties"]["ImageConfig"]["Command"][0]
                for r in resources_of(template(), "AWS::Lambda::Function").values()}
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
    runs = sqs.get_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName="energy-dbt-runs.fifo")["QueueUrl"],
                                    AttributeNames=["All"])["Attributes"]
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
    assert {g["logGroupName"]: g["retentionInDays"] for g in logs} == {
        "/aws/lambda/energy-ingest": 90, "/aws/lambda/energy-dbt-runner": 90}


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
    from infra.cost_model import SCENARIOS, Prices, estimate, render

    meters = estimate(SCENARIOS[1])
    lines = {line.item: line.usd for line in meters.lines}
    # Athena by hand: 300 builds, each reading 37 B per reading of 10,000 x 96 x 182 readings;
    # ten a week (Sunday's files) also calibrate the forecasts, 33 B more per reading; plus
    # 200 analyst queries of 200 MB, at $5 per TB.
    readings = 10_000 * 96 * 182
    by_hand = (300 * readings * 37 + 10 * 365.25 / 12 / 7 * readings * 33 + 200 * 200e6) / 1e12 * 5
    assert lines["Athena"] == pytest.approx(by_hand)
    # The runner: 300 runs x 240 s x 2 GB at the GB-second price.
    assert lines["Lambda dbt runner"] == pytest.approx(300 * 240 * 2 * Prices().lambda_gb_second)
    assert meters.total == pytest.approx(sum(lines.values()))
    # Coalescing ten uploads per run cuts the builds' share tenfold.
    coalesced = {line.item: line.usd for line in estimate(SCENARIOS[2]).lines}
    assert coalesced["Lambda dbt runner"] == pytest.approx(lines["Lambda dbt runner"] / 10)
    assert "seed: 100 uploads" in render([estimate(SCENARIOS[0])])


def test_destroy_keeps_the_data_unless_asked(moto_endpoint):
    from infra.deploy import destroy_stack

    session = boto3.session.Session()
    for delete_data in (False, True):
        stack = f"energy-destroy-{int(delete_data)}"
        outputs = deploy_stack(session.client("cloudformation"), stack,
                               {"ImageUri": IMAGE, "ProjectName": f"gone{int(delete_data)}"}, wait_seconds=60)
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
