"""The dbt runner Lambda: a batch of run requests in (one per lake object that landed),
one `dbt build` out.

It sits behind a FIFO queue with a single message group, so runs never overlap, and
every request that arrived while the previous run worked is taken by the next one:
a burst of uploads costs one build. A failed build raises, so the batch returns to the
queue and, after three attempts, lands in the dead-letter queue (alarmed).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from .warehouse import build, maintain
from .workspace import Workspace

logger = Logger(service="energy-dbt-runner")
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "EnergyLakehouse"),
                  service="energy-dbt-runner")


class BuildFailed(RuntimeError):
    """dbt ran and a model or a test failed."""


def maintenance_requested(event: dict) -> bool:
    """Whether the batch holds the weekly schedule's request (an EventBridge Scheduled
    Event: infra/template.yaml WeeklyMaintenanceRule)."""
    return any(json.loads(record.get("body") or "{}").get("detail-type") == "Scheduled Event"
               for record in event.get("Records", []))


def landed_objects(event: dict) -> list[str]:
    """The lake objects named by the EventBridge events inside the SQS records."""
    keys = []
    for record in event.get("Records", []):
        body = json.loads(record.get("body") or "{}")
        key = body.get("detail", {}).get("object", {}).get("key")
        if key:
            keys.append(key)
    return keys


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    landed = landed_objects(event)
    target = os.environ.get("ENERGY_DBT_TARGET", "athena")
    workspace = Workspace(Path(os.environ.get("ENERGY_HOME", "/tmp/energy"))).ensure()
    if maintenance_requested(event) and not landed:
        # the schedule's request alone: compact and expire, no build to run
        maintain(workspace, target=target)
        metrics.add_metric(name="TableMaintenanceRuns", unit=MetricUnit.Count, value=1)
        logger.info("table maintenance done", extra={"target": target})
        return {"status": "maintained", "target": target}
    logger.info("dbt build starts", extra={"target": target, "requests": len(event.get("Records", [])),
                                           "objects": landed})
    result = build(workspace, target=target)
    metrics.add_metric(name="DbtRunRequestsCoalesced", unit=MetricUnit.Count, value=len(event.get("Records", [])))
    summary = {"target": target, "requests": len(event.get("Records", [])), "objects": len(landed),
               "counts": result.counts}
    if not result.success:
        metrics.add_metric(name="DbtRunsFailed", unit=MetricUnit.Count, value=1)
        failures = [{"node": f.name, "kind": f.kind, "message": f.message[:500]} for f in result.failures]
        logger.error("dbt build failed", extra={**summary, "failures": failures})
        raise BuildFailed(f"dbt build on {target} failed: " + "; ".join(f["node"] for f in failures))
    metrics.add_metric(name="DbtRunsSucceeded", unit=MetricUnit.Count, value=1)
    logger.info("dbt build done", extra=summary)
    if maintenance_requested(event):
        # uploads arrived with the schedule's request: maintain after their build
        maintain(workspace, target=target)
        metrics.add_metric(name="TableMaintenanceRuns", unit=MetricUnit.Count, value=1)
        logger.info("table maintenance done", extra={"target": target})
        return {"status": "built and maintained", **summary}
    return {"status": "built", **summary}
