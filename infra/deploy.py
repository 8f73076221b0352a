"""`make deploy` / `make destroy`: the whole AWS side in one command.

deploy:  checks credentials, Docker and permissions first (and says what to do when one
         is missing), creates the ECR repository, builds and pushes the Lambda image
         (infra/Dockerfile), creates or updates the CloudFormation stack, with --sources
         writes the ingest's source configuration to its SSM parameter, prints the
         outputs.
destroy: deletes the stack. Buckets holding data (raw, lake, warehouse, access logs)
         are retained unless --delete-data is given, which empties and deletes them.

    python -m infra.deploy deploy [--stack energy] [--image-uri URI] [--alarm-email ADDR] [--sources FILE]
    python -m infra.deploy destroy [--stack energy] [--delete-data]
"""

from __future__ import annotations

import argparse
import base64
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, WaiterError

from ingest_lambda.errors import EnergyError, UsageError
from ingest_lambda.sources import SourceConfig

from .stack import INFRA, template_body

RETAINED_BUCKET_OUTPUTS = ("RawBucket", "LakeBucket", "WarehouseBucket", "AccessLogsBucket")


class PreflightError(EnergyError, RuntimeError):
    """Something the person deploying must fix first; the message says what."""


@dataclass
class Account:
    id: str
    region: str
    arn: str


def check_credentials(session: boto3.session.Session) -> Account:
    if session.region_name is None:
        raise PreflightError("no AWS region: set AWS_REGION (for example eu-west-1) or a region in your AWS profile")
    try:
        identity = session.client("sts").get_caller_identity()
    except (NoCredentialsError, ClientError, BotoCoreError) as error:
        raise PreflightError(
            f"no usable AWS credentials ({error}): run `aws configure` or `aws sso login`, "
            "or set AWS_PROFILE / AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        ) from None
    return Account(identity["Account"], session.region_name, identity["Arn"])


def check_docker() -> None:
    if shutil.which("docker") is None:
        raise PreflightError(
            "Docker is needed to build the Lambda image: install it, or pass --image-uri of an image already pushed to ECR"
        )
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        raise PreflightError("Docker is installed but its engine does not answer: start it (or pass --image-uri)")


def check_permissions(session: boto3.session.Session) -> None:
    """The cheapest calls that fail the way the deployment would, before anything is made."""
    try:
        session.client("cloudformation").validate_template(TemplateBody=template_body())
    except ClientError as error:
        raise PreflightError(
            f"CloudFormation refused the template or the call: {error}; the deploying identity "
            "needs cloudformation:*Stack*, iam:*Role*, s3, lambda, sqs, kms, glue, athena, "
            "events, logs, sns and cloudwatch rights"
        ) from None


def push_image(session: boto3.session.Session, account: Account, repository: str, tag: str) -> str:
    ecr = session.client("ecr")
    try:
        ecr.create_repository(
            repositoryName=repository,
            imageTagMutability="IMMUTABLE",
            imageScanningConfiguration={"scanOnPush": True},
            encryptionConfiguration={"encryptionType": "KMS"},
        )
    except ecr.exceptions.RepositoryAlreadyExistsException:
        pass
    registry = f"{account.id}.dkr.ecr.{account.region}.amazonaws.com"
    image = f"{registry}/{repository}:{tag}"
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, password = base64.b64decode(token).decode().split(":", 1)
    subprocess.run(
        ["docker", "login", "--username", user, "--password-stdin", registry], input=password.encode(), check=True, capture_output=True
    )
    subprocess.run(
        ["docker", "build", "--platform", "linux/amd64", "-f", str(INFRA / "Dockerfile"), "-t", image, str(INFRA.parent)], check=True
    )
    subprocess.run(["docker", "push", image], check=True)
    return image


def deploy_stack(cloudformation, stack: str, parameters: dict[str, str], wait_seconds: int = 3600) -> dict[str, str]:
    """Create or update the stack and wait for it; returns its outputs."""
    arguments = dict(
        StackName=stack,
        TemplateBody=template_body(),
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Tags=[{"Key": "project", "Value": parameters.get("ProjectName", "energy")}],
    )
    try:
        cloudformation.describe_stacks(StackName=stack)
        exists = True
    except ClientError:
        exists = False
    try:
        if exists:
            cloudformation.update_stack(**arguments)
            waiter = cloudformation.get_waiter("stack_update_complete")
        else:
            cloudformation.create_stack(**arguments, OnFailure="ROLLBACK")
            waiter = cloudformation.get_waiter("stack_create_complete")
        waiter.wait(StackName=stack, WaiterConfig={"Delay": 5, "MaxAttempts": max(1, wait_seconds // 5)})
    except ClientError as error:
        if "No updates are to be performed" not in str(error):
            raise
    except WaiterError as error:
        reason = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("StackStatusReason", "")
        raise RuntimeError(f"stack {stack} did not finish: {reason or error}; see its events in the console") from None
    return outputs(cloudformation, stack)


def outputs(cloudformation, stack: str) -> dict[str, str]:
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    return {item["OutputKey"]: item["OutputValue"] for item in described.get("Outputs", [])}


def destroy_stack(session: boto3.session.Session, stack: str, delete_data: bool) -> list[str]:
    """Delete the stack; with delete_data also empty and delete the retained buckets."""
    cloudformation = session.client("cloudformation")
    kept = outputs(cloudformation, stack)
    buckets = [kept[name] for name in RETAINED_BUCKET_OUTPUTS if name in kept]
    # The results bucket is not retained, so it must be empty for the stack to go.
    if "AthenaResultsBucket" in kept:
        empty_bucket(session, kept["AthenaResultsBucket"])
    cloudformation.delete_stack(StackName=stack)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig={"Delay": 5, "MaxAttempts": 720})
    if not delete_data:
        return buckets
    for bucket in buckets:
        empty_bucket(session, bucket)
        session.client("s3").delete_bucket(Bucket=bucket)
    return []


def read_sources(path: str) -> str:
    """The source configuration file, checked as the ingest will read it, before anything
    is deployed."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        SourceConfig.parse(text, path).options_for("raw/")  # the defaults too
    except OSError as error:
        raise PreflightError(f"cannot read the source configuration {path}: {error}") from None
    except UsageError as error:
        raise PreflightError(str(error)) from None
    return text


def put_sources(ssm, parameter: str, text: str) -> None:
    """Write the source configuration where the ingest reads it: an SSM parameter, which
    producers (who may write anything into the raw bucket) cannot change. Containers
    read it when they start. Intelligent-Tiering: standard up to 4 KB, advanced above."""
    ssm.put_parameter(
        Name=parameter,
        Value=text,
        Type="String",
        Tier="Intelligent-Tiering",
        Overwrite=True,
        Description="energy ingest: per-source options (README, Options per source)",
    )


def stale_sources_warning(session: boto3.session.Session, outputs: dict[str, str]) -> str | None:
    """A sources.json left in the raw bucket by an earlier version of the stack is no
    longer read; say so rather than let it look like it applies."""
    bucket = outputs.get("RawBucket")
    if not bucket:
        return None
    try:
        session.client("s3").head_object(Bucket=bucket, Key="config/sources.json")
    except ClientError:
        return None
    return (
        f"warning: s3://{bucket}/config/sources.json is no longer read (producers can write that bucket); "
        f"the ingest reads the SSM parameter {outputs.get('SourcesParameter')}: "
        'write it with make deploy ARGS="--sources FILE", then delete the old object'
    )


def empty_bucket(session: boto3.session.Session, bucket: str) -> None:
    s3 = session.resource("s3")
    try:
        s3.Bucket(bucket).object_versions.delete()
    except ClientError as error:
        if "NoSuchBucket" not in str(error):
            raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make deploy", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("deploy", help="build and push the image, deploy the stack, print its outputs")
    up.add_argument("--stack", default="energy")
    up.add_argument("--project", default="energy", help="prefix of every resource name")
    up.add_argument("--image-uri", help="skip the Docker build and use this pushed image")
    up.add_argument("--alarm-email", default="", help="subscribe this address to the alarms")
    up.add_argument("--sources", metavar="FILE", help="write this source configuration (sources.json) for the ingest")
    down = commands.add_parser("destroy", help="delete the stack (data buckets kept unless --delete-data)")
    down.add_argument("--stack", default="energy")
    down.add_argument("--delete-data", action="store_true", help="also empty and delete raw, lake and warehouse")
    args = parser.parse_args(argv)

    session = boto3.session.Session()
    try:
        account = check_credentials(session)
        if args.command == "destroy":
            kept = destroy_stack(session, args.stack, args.delete_data)
            print(f"stack {args.stack} deleted" + (f"; data kept in {', '.join(kept)}" if kept else "; data deleted"))
            return 0
        sources = read_sources(args.sources) if args.sources else None
        if not args.image_uri:
            check_docker()
        check_permissions(session)
        print(f"deploying stack {args.stack} to account {account.id} in {account.region} as {account.arn}")
        image = args.image_uri or push_image(session, account, f"{args.project}-lambda", time.strftime("%Y%m%d%H%M%S"))
        result = deploy_stack(
            session.client("cloudformation"), args.stack, {"ProjectName": args.project, "ImageUri": image, "AlarmEmail": args.alarm_email}
        )
        if sources is not None:
            put_sources(session.client("ssm"), result["SourcesParameter"], sources)
        warning = stale_sources_warning(session, result)
    except PreflightError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (ClientError, RuntimeError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    width = max(map(len, result), default=0)
    for key, value in sorted(result.items()):
        print(f"{key:<{width}}  {value}")
    print(f"upload files with: aws s3 cp FILE s3://{result.get('RawBucket', '<raw bucket>')}/raw/<source>/")
    if warning:
        print(warning, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
