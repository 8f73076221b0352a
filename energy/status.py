"""`energy status`: what is in the lake, the latest ingests and their outcomes, and the
latest data-quality failures, read from the workspace's files (no warehouse needed)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import duckdb

from .workspace import Workspace


@dataclass
class LakeStatus:
    objects: int = 0
    readings: int = 0
    meters: int = 0
    first_reading: object = None
    last_reading: object = None
    recent_ingests: list[dict] = field(default_factory=list)
    ingest_totals: dict = field(default_factory=dict)
    dq_failures: list[dict] = field(default_factory=list)
    warehouse_built: object = None


def run_records(workspace: Workspace) -> list[dict]:
    """Every ingest's run record (dq/ingests/<id>.json), newest first."""
    records = [json.loads(path.read_text()) for path in (workspace.dq / "ingests").glob("*.json") if not path.name.endswith(".intent.json")]
    return sorted(records, key=lambda r: r["ingested_at"], reverse=True)


def upload_totals(records: list[dict]) -> dict:
    return {
        "uploads": len(records),
        "accepted": sum(r["outcome"] == "accepted" for r in records),
        "rejected": sum(r["outcome"] == "rejected" for r in records),
        "rows_in": sum(r["rows_in"] for r in records),
        "rows_landed": sum(r["rows_landed"] for r in records),
        "rows_quarantined": sum(r["rows_quarantined"] for r in records),
    }


def lake_status(workspace: Workspace, recent: int = 10) -> LakeStatus:
    status = LakeStatus()
    lake_files = sorted((workspace.lake / "readings").glob("*/*.parquet"))
    dq_files = sorted((workspace.dq / "validations").glob("*/*.parquet"))
    status.objects = len(lake_files)
    with duckdb.connect() as connection:
        if lake_files:
            status.readings, status.meters, status.first_reading, status.last_reading = connection.execute(
                "select count(*), count(distinct meter_id), min(reading_start), max(reading_start) "
                "from read_parquet(?, union_by_name = true)",
                [[str(p) for p in lake_files]],
            ).fetchone()
        if dq_files:
            cursor = connection.execute(
                "select source_key, expectation, unexpected_count, reason, evaluated_at "
                "from read_parquet(?, union_by_name = true) where not success "
                "order by evaluated_at desc, source_key, expectation limit ?",
                [[str(p) for p in dq_files], recent],
            )
            names = [column[0] for column in cursor.description]
            status.dq_failures = [dict(zip(names, row)) for row in cursor.fetchall()]
    records = run_records(workspace)
    status.recent_ingests = records[:recent]
    status.ingest_totals = upload_totals(records)
    # Uploads still being written (an intent record with no run record after it).
    status.ingest_totals["in_flight"] = sum(
        1
        for path in (workspace.dq / "ingests").glob("*.intent.json")
        if not path.with_name(path.name.replace(".intent.json", ".json")).exists()
    )
    if workspace.warehouse.exists():
        status.warehouse_built = dt.datetime.fromtimestamp(workspace.warehouse.stat().st_mtime, dt.UTC)
    return status
