"""The dbt runner Lambda: a batch of run requests in (one per lake object that landed),
one `dbt build` out.

It sits behind a FIFO queue with a single message group, so runs never overlap, and
every request that arrived while the previous run worked is taken by the next one:
a burst of uploads costs one build. A failed build raises, so the batch returns to the
queue and, after three attempts, lands in the dead-letter queue (alarmed).
"""

from __future__ import annotations

import json

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, SQSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from .settings import RunnerSettings
from .warehouse import build, maintain
from .workspace import Workspace

SETTINGS = RunnerSettings.from_environment()
logger = Logger(service="energy-dbt-runner")
metrics = Metrics(namespace=SETTINGS.metrics_namespace, service="energy-dbt-runner")


class BuildFailed(RuntimeError):
    """dbt ran and a model or a test failed."""


def run_requests(event: SQSEvent) -> list[EventBridgeEvent]:
    """The EventBridge events the SQS records of the run queue carry: an S3 "Object
    Created" in the lake, or the weekly schedule's "Scheduled Event"."""
    return [EventBridgeEvent(json.loads(record.body or "{}")) for record in event.records]


def maintenance_requested(requests: list[EventBridgeEvent]) -> bool:
    """Whether the batch holds the weekly schedule's request (an EventBridge Scheduled
    Event: infra/template.yaml WeeklyMaintenanceRule)."""
    return any(request.get("detail-type") == "Scheduled Event" for request in requests)


def landed_objects(requests: list[EventBridgeEvent]) -> list[str]:
    """The lake objects the S3 events of the batch name."""
    keys = []
    for request in requests:
        key = (request.get("detail") or {}).get("object", {}).get("key")
        if key:
            keys.append(key)
    return keys


@metrics.log_metrics
@logger.inject_lambda_context
@event_source(data_class=SQSEvent)
def handler(event: SQSEvent, context: LambdaContext) -> dict:
    requests = run_requests(event)
    landed = landed_objects(requests)
    settings = RunnerSettings.from_environment()
    target = settings.target
    workspace = Workspace(settings.home).ensure()
    if maintenance_requested(requests) and not landed:
        # the schedule's request alone: compact and expire, no build to run
        maintain(workspace, target=target)
        metrics.add_metric(name="TableMaintenanceRuns", unit=MetricUnit.Count, value=1)
        logger.info("table maintenance done", extra={"target": target})
        return {"status": "maintained", "target": target}
    logger.info("dbt build starts", extra={"target": target, "requests": len(requests), "objects": landed})
    result = build(workspace, target=target)
    metrics.add_metric(name="DbtRunRequestsCoalesced", unit=MetricUnit.Count, value=len(requests))
    summary = {"target": target, "requests": len(requests), "objects": len(landed), "counts": result.counts}
    if result.rebuilt_for_settings:
        # a changed var or a release that changed a rule: the build was a full refresh
        summary["rebuilt_for_settings"] = result.rebuilt_for_settings
    if not result.success:
        metrics.add_metric(name="DbtRunsFailed", unit=MetricUnit.Count, value=1)
        failures = [{"node": f.name, "kind": f.kind, "message": f.message[:500]} for f in result.failures]
        logger.error("dbt build failed", extra={**summary, "failures": failures})
        raise BuildFailed(f"dbt build on {target} failed: " + "; ".join(f["node"] for f in failures))
    metrics.add_metric(name="DbtRunsSucceeded", unit=MetricUnit.Count, value=1)
    logger.info("dbt build done", extra=summary)
    if maintenance_requested(requests):
        # uploads arrived with the schedule's request: maintain after their build
        maintain(workspace, target=target)
        metrics.add_metric(name="TableMaintenanceRuns", unit=MetricUnit.Count, value=1)
        logger.info("table maintenance done", extra={"target": target})
        return {"status": "built and maintained", **summary}
    return {"status": "built", **summary}
