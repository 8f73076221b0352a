"""One upload from bytes to the lake: parse, normalise, validate, land or quarantine.

Called by the CLI (``energy ingest``) and by the Lambda handler alike. Write order is
what makes an ingest safe to crash and to repeat:

1. quarantined rows and validation records (not read as readings);
2. the upload's readings as ONE Parquet object in the lake: the commit point;
3. the run record in ``dq/ingests/``: its presence means the bytes are done, so the
   same bytes with the same options are not landed again.

A crash before 2 lands nothing visible; a retry after a crash between 2 and 3 writes
the same lake key again (found by its ingest id) and so never duplicates it.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .normalise import normalise
from .options import IngestOptions
from .parse import FileRejected, ParsedUpload, parse_csv
from .storage import Lakehouse
from .validate import validate_readings

LAKE_SCHEMA = pa.schema(
    [
        ("meter_id", pa.string()),
        ("reading_start", pa.timestamp("ms")),
        ("interval_minutes", pa.int32()),
        ("kwh", pa.float64()),
        ("timezone", pa.string()),
        ("source_key", pa.string()),
        ("ingest_id", pa.string()),
        ("ingested_at", pa.timestamp("ms")),
    ]
)
QUARANTINE_SCHEMA = pa.schema(
    [
        ("ingest_id", pa.string()),
        ("source_key", pa.string()),
        ("row_number", pa.int64()),
        ("reason", pa.string()),
        ("raw", pa.string()),
        ("quarantined_at", pa.timestamp("ms")),
    ]
)
DQ_SCHEMA = pa.schema(
    [
        ("ingest_id", pa.string()),
        ("source_key", pa.string()),
        ("expectation", pa.string()),
        ("level", pa.string()),
        ("success", pa.bool_()),
        ("element_count", pa.int64()),
        ("unexpected_count", pa.int64()),
        ("reason", pa.string()),
        ("evaluated_at", pa.timestamp("ms")),
    ]
)


@dataclass
class IngestReport:
    ingest_id: str
    source_key: str
    outcome: str  # accepted | rejected | already_ingested
    rows_in: int = 0
    rows_landed: int = 0
    rows_quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    message: str = ""
    rejection_code: str | None = None
    lake_object: str | None = None
    quarantine_object: str | None = None
    ingested_at: str = ""

    @property
    def accepted(self) -> bool:
        return self.outcome in ("accepted", "already_ingested")

    def to_dict(self) -> dict:
        return asdict(self)


def ingest_id_for(data: bytes, options: IngestOptions) -> str:
    digest = hashlib.sha256(data).hexdigest()
    return hashlib.sha256(f"{digest}:{options.fingerprint()}".encode()).hexdigest()[:24]


def _raw_records(parsed: ParsedUpload, positions: np.ndarray) -> list[str]:
    subset = parsed.table.take(pa.array(positions, pa.int64()))
    # Values are cut at 500 characters: a quarantine record explains a row, the whole
    # upload stays untouched in raw/.
    return [
        json.dumps({k: (v[:500] if isinstance(v, str) else v) for k, v in row.items()}, ensure_ascii=False)
        for row in subset.to_pylist()
    ]


def _timestamp(now: dt.datetime) -> pa.Scalar:
    return pa.scalar(now.replace(tzinfo=None), pa.timestamp("ms"))


def ingest_bytes(
    data: bytes,
    source_key: str,
    lakehouse: Lakehouse,
    options: IngestOptions | None = None,
    now: dt.datetime | None = None,
) -> IngestReport:
    options = options or IngestOptions()
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    ingest_id = ingest_id_for(data, options)
    record_key = f"ingests/{ingest_id}.json"

    previous = lakehouse.dq.read_json(record_key)
    if previous is not None:
        report = IngestReport(**previous)
        if report.outcome == "accepted":
            report.outcome = "already_ingested"
            report.message = f"these bytes were ingested before (ingest {ingest_id}); nothing changed"
        return report

    report = IngestReport(ingest_id, source_key, "accepted", ingested_at=now.isoformat())
    day = now.date().isoformat()
    try:
        parsed = parse_csv(data)
        report.rows_in = parsed.rows_in
        readings = normalise(parsed, options, now)
        validation = validate_readings(readings)
        if validation.table_failure:
            raise FileRejected(validation.table_failure, "table_rule")
    except FileRejected as rejected:
        return _reject_file(data, source_key, lakehouse, report, rejected, now, day, record_key)

    # Rows the parser set aside plus rows the suite failed.
    bad_mask = np.array([r is not None for r in validation.row_reasons], dtype=bool)
    bad_positions = np.flatnonzero(bad_mask)
    row_numbers = readings["row_number"].to_numpy()
    reasons = [str(r) for r in validation.row_reasons[bad_positions]]
    quarantine_rows = {
        "row_number": [int(n) for n in row_numbers[bad_positions]] + [m[0] for m in parsed.malformed_rows],
        "reason": reasons + [m[2] for m in parsed.malformed_rows],
        "raw": _raw_records(parsed, bad_positions) + [m[1] for m in parsed.malformed_rows],
    }
    report.rows_quarantined = len(quarantine_rows["row_number"])
    report.reasons = dict(collections.Counter(quarantine_rows["reason"]).most_common())

    dq_rows = [
        {
            "expectation": o.expectation,
            "level": o.level,
            "success": o.success,
            "element_count": o.element_count,
            "unexpected_count": o.unexpected_count,
            "reason": o.reason,
        }
        for o in validation.outcomes
    ]
    dq_rows.append(
        {
            "expectation": "csv_rows_have_header_field_count",
            "level": "row",
            "success": not parsed.malformed_rows,
            "element_count": parsed.rows_in,
            "unexpected_count": len(parsed.malformed_rows),
            "reason": "rows must have as many fields as the header",
        }
    )

    share = report.rows_quarantined / report.rows_in if report.rows_in else 1.0
    if report.rows_quarantined and share > options.max_bad_row_share:
        top_reason = next(iter(report.reasons))
        rejected = FileRejected(
            f"{report.rows_quarantined} of {report.rows_in} rows ({share:.0%}) failed the row rules, "
            f"above the limit of {options.max_bad_row_share:.0%}; most common: {top_reason}",
            "too_many_bad_rows",
        )
        _write_quarantined_rows(lakehouse, report, quarantine_rows, now, day)
        _write_dq(lakehouse, report, dq_rows + [_limit_row(report, options, False)], now, day)
        return _reject_file(data, source_key, lakehouse, report, rejected, now, day, record_key, rows_written=True)

    if report.rows_quarantined:
        _write_quarantined_rows(lakehouse, report, quarantine_rows, now, day)
    _write_dq(lakehouse, report, dq_rows + [_limit_row(report, options, True)], now, day)

    good = readings.filter(pa.array(~bad_mask))
    landed = pa.table(
        {
            "meter_id": good["meter_id"],
            "reading_start": good["reading_start"],
            "interval_minutes": good["interval_minutes"],
            "kwh": good["kwh"],
            "timezone": good["timezone"],
            "source_key": pa.array([source_key] * good.num_rows, pa.string()),
            "ingest_id": pa.array([ingest_id] * good.num_rows, pa.string()),
            "ingested_at": pa.array([_timestamp(now).as_py()] * good.num_rows, pa.timestamp("ms")),
        },
        schema=LAKE_SCHEMA,
    ).sort_by([("meter_id", "ascending"), ("reading_start", "ascending")])
    # A retry after a crash reuses the key it wrote before, even on another day.
    earlier = lakehouse.lake.find("readings", f"{ingest_id}.parquet")
    lake_key = earlier[0] if earlier else f"readings/ingest_date={day}/{ingest_id}.parquet"
    report.lake_object = lakehouse.lake.write_parquet(lake_key, landed)
    report.rows_landed = landed.num_rows
    report.message = (
        f"landed {report.rows_landed} of {report.rows_in} rows"
        + (f"; quarantined {report.rows_quarantined}" if report.rows_quarantined else "")
    )
    lakehouse.dq.write_json(record_key, report.to_dict())
    return report


def _limit_row(report: IngestReport, options: IngestOptions, success: bool) -> dict:
    return {
        "expectation": "bad_row_share_within_limit",
        "level": "table",
        "success": success,
        "element_count": report.rows_in,
        "unexpected_count": report.rows_quarantined,
        "reason": f"at most {options.max_bad_row_share:.0%} of rows may fail the row rules",
    }


def _write_quarantined_rows(
    lakehouse: Lakehouse, report: IngestReport, rows: dict, now: dt.datetime, day: str
) -> None:
    count = len(rows["row_number"])
    table = pa.table(
        {
            "ingest_id": pa.array([report.ingest_id] * count, pa.string()),
            "source_key": pa.array([report.source_key] * count, pa.string()),
            "row_number": pa.array(rows["row_number"], pa.int64()),
            "reason": pa.array(rows["reason"], pa.string()),
            "raw": pa.array(rows["raw"], pa.string()),
            "quarantined_at": pa.array([_timestamp(now).as_py()] * count, pa.timestamp("ms")),
        },
        schema=QUARANTINE_SCHEMA,
    ).sort_by("row_number")
    report.quarantine_object = lakehouse.quarantine.write_parquet(
        f"rows/ingest_date={day}/{report.ingest_id}.parquet", table
    )


def _write_dq(
    lakehouse: Lakehouse, report: IngestReport, rows: list[dict], now: dt.datetime, day: str
) -> None:
    count = len(rows)
    columns = {name: [r[name] for r in rows] for name in rows[0]}
    table = pa.table(
        {
            "ingest_id": pa.array([report.ingest_id] * count, pa.string()),
            "source_key": pa.array([report.source_key] * count, pa.string()),
            **{name: pa.array(values, DQ_SCHEMA.field(name).type) for name, values in columns.items()},
            "evaluated_at": pa.array([_timestamp(now).as_py()] * count, pa.timestamp("ms")),
        },
        schema=DQ_SCHEMA,
    )
    lakehouse.dq.write_parquet(f"validations/ingest_date={day}/{report.ingest_id}.parquet", table)


def _reject_file(
    data: bytes,
    source_key: str,
    lakehouse: Lakehouse,
    report: IngestReport,
    rejected: FileRejected,
    now: dt.datetime,
    day: str,
    record_key: str,
    rows_written: bool = False,
) -> IngestReport:
    """Keep the whole upload in quarantine with its reason; nothing lands."""
    report.outcome = "rejected"
    report.rejection_code = rejected.code
    report.message = rejected.reason
    report.rows_landed = 0
    report.rows_quarantined = report.rows_in
    if not report.reasons:
        report.reasons = {rejected.reason: report.rows_in}
    name = source_key.rsplit("/", 1)[-1] or "upload"
    folder = f"files/{report.ingest_id}"
    report.quarantine_object = lakehouse.quarantine.write_bytes(f"{folder}/{name}", data)
    lakehouse.quarantine.write_json(
        f"{folder}/reason.json",
        {"source_key": source_key, "reason": rejected.reason, "code": rejected.code,
         "rows_in": report.rows_in, "rejected_at": now.isoformat()},
    )
    if not rows_written:
        _write_dq(
            lakehouse,
            report,
            [
                {
                    "expectation": f"file_is_usable({rejected.code})",
                    "level": "file",
                    "success": False,
                    "element_count": report.rows_in,
                    "unexpected_count": max(report.rows_in, 1),  # at least the file itself
                    "reason": rejected.reason,
                }
            ],
            now,
            day,
        )
    lakehouse.dq.write_json(record_key, report.to_dict())
    return report
