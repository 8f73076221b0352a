"""One upload from bytes to the lake: parse, normalise, validate, land or quarantine.

Called by the CLI (``energy ingest``) and by the Lambda handler alike. The upload is
read in batches; each batch is typed, validated and written to a staged Parquet file,
so memory stays bounded whatever the file size. Write order is what makes an ingest
safe to crash and to repeat:

1. an intent record naming the lake key and the ingest time;
2. quarantined rows, validation records and the Great Expectations result;
3. the upload's readings as ONE Parquet object in the lake: the commit point;
4. the run record in ``dq/ingests/``: an accepted one means these bytes are done, and
   the same bytes with the same options are not landed again (a rejected one is read
   again).

A crash before 3 leaves nothing visible to readers, and a retry lands under the day it
runs (whatever the delay, so incremental builds see it). A retry after a crash between
3 and 4 finds the intent's object committed and rewrites it with the same key and
ingest time, so never duplicates it.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import os
import queue
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .detect import Dialect, detect_dialect
from .normalise import StreamState, normalise
from .options import IngestOptions
from .parse import DEFAULT_BLOCK_BYTES, FileRejected, Upload, read_upload
from .storage import Lakehouse
from .validate import ValidationTally, validator

LAKE_SCHEMA = pa.schema(
    [
        ("meter_id", pa.string()),
        ("reading_start", pa.timestamp("ms")),
        ("interval_minutes", pa.int32()),
        ("kwh", pa.float64()),
        ("timezone", pa.string()),
        ("flow", pa.string()),  # import (from the grid) or export (fed in)
        ("quality", pa.string()),  # measured, estimated or missing (kwh null)
        ("quality_code", pa.string()),  # the file's own quality code, as lineage
        ("source_key", pa.string()),
        ("source_row", pa.int64()),
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
REPEAT_EXPECTATION = "expect_column_values_to_be_in_set(is_repeat)"
CONFLICT_EXPECTATION = "expect_column_values_to_be_in_set(key_conflict)"
REPEAT_REASON = "exact repeat of an earlier row (same meter, time and value); the first copy landed"
CONFLICT_REASON = "the same meter and time appear with different values in this file; correct the file and upload it again (if its times are local clock times, give --timezone: a repeated hour is the autumn clock change; if a column tells the rows apart, such as consumption and generation, map it with --column flow=HEADER)"

Progress = Callable[[int, int], None]  # (bytes read, bytes in the file)


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
    readings_missing: int = 0  # landed as missing readings (placeholders, or marked missing by the file)
    lake_rows: int = 0  # rows in the lake object: a net meter's reading lands as import and export
    dialect: dict = field(default_factory=dict)  # what detection decided (detect.Dialect.record)

    @property
    def accepted(self) -> bool:
        return self.outcome in ("accepted", "already_ingested")

    def to_dict(self) -> dict:
        return asdict(self)


def ingest_id_for(upload: Upload, options: IngestOptions) -> str:
    return hashlib.sha256(f"{upload.sha256()}:{options.fingerprint()}".encode()).hexdigest()[:24]


def ingest_bytes(
    data: bytes,
    source_key: str,
    lakehouse: Lakehouse,
    options: IngestOptions | None = None,
    now: dt.datetime | None = None,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> IngestReport:
    return ingest_upload(Upload(data=data), source_key, lakehouse, options, now, block_bytes)


def ingest_file(
    path: Path,
    source_key: str,
    lakehouse: Lakehouse,
    options: IngestOptions | None = None,
    now: dt.datetime | None = None,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    progress: Progress | None = None,
) -> IngestReport:
    return ingest_upload(Upload(path=Path(path)), source_key, lakehouse, options, now, block_bytes, progress)


def ingest_upload(
    upload: Upload,
    source_key: str,
    lakehouse: Lakehouse,
    options: IngestOptions | None = None,
    now: dt.datetime | None = None,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest one upload. `progress(bytes_read, bytes_total)` is called as the file is
    read (sizes of the uncompressed CSV)."""
    options = options or IngestOptions()
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # the lake keeps milliseconds
    ingest_id = ingest_id_for(upload, options)
    record_key = f"ingests/{ingest_id}.json"

    previous = lakehouse.dq.read_json(record_key)
    if previous is not None and previous["outcome"] == "accepted":
        report = IngestReport(**previous)
        report.outcome = "already_ingested"
        report.message = f"these bytes were ingested before (ingest {ingest_id}); nothing changed"
        return report
    # A rejected upload is read again: with a looser bad-row limit (which is not part of
    # the ingest id), or once what stopped it is fixed.

    intent_key = f"ingests/{ingest_id}.intent.json"
    intent = lakehouse.dq.read_json(intent_key)
    if intent is not None and lakehouse.lake.exists(intent["lake_key"]):
        # An earlier attempt committed its readings and stopped before its run record:
        # the same key and the same ingest time again, so the object is rewritten as it was.
        now = _committed_at(lakehouse, intent)
    else:
        # Land under the day of this attempt, whenever an earlier one started: incremental
        # builds read only the partitions of the last days before the newest ingest they
        # have seen, and ingested_at (this attempt's time) must fall in its partition.
        day = now.date().isoformat()
        if intent is not None and intent["day"] != day:
            _forget_attempt(lakehouse, ingest_id, intent["day"])
        intent = {
            "lake_key": f"readings/ingest_date={day}/{ingest_id}.parquet",
            "day": day,
            "ingested_at": now.isoformat(),
        }
        lakehouse.dq.write_json(intent_key, intent)
    run = _Run(upload, source_key, lakehouse, options, now, ingest_id, intent["day"], block_bytes, progress)
    try:
        report = run.execute(intent["lake_key"])
    finally:
        run.cleanup()
    if previous is not None and report.outcome == "accepted":
        lakehouse.quarantine.delete(f"files/{ingest_id}")  # the copy kept when it was rejected
    lakehouse.dq.write_json(record_key, report.to_dict())
    return report


def _committed_at(lakehouse: Lakehouse, intent: dict) -> dt.datetime:
    """When the committed attempt ingested: from its intent, or (intents written before
    they recorded it) from the object's own ingested_at."""
    if "ingested_at" in intent:
        return dt.datetime.fromisoformat(intent["ingested_at"])
    with lakehouse.lake.fs.open_input_file(lakehouse.lake.path(intent["lake_key"])) as handle:
        stamp = pq.ParquetFile(handle).read_row_group(0, columns=["ingested_at"])["ingested_at"][0].as_py()
    return stamp.replace(tzinfo=dt.UTC)


def _forget_attempt(lakehouse: Lakehouse, ingest_id: str, day: str) -> None:
    """Remove what an earlier, uncommitted attempt wrote under its own day, so the retry's
    quarantined rows and validation records are not counted twice."""
    lakehouse.quarantine.delete(f"rows/ingest_date={day}/{ingest_id}.parquet")
    lakehouse.dq.delete(f"validations/ingest_date={day}/{ingest_id}.parquet")


class _Run:
    """The state of one ingest while its batches flow through."""

    def __init__(self, upload, source_key, lakehouse, options, now, ingest_id, day, block_bytes, progress=None):
        self.upload = upload
        self.progress = progress
        self.source_key = source_key
        self.lakehouse = lakehouse
        self.options = options
        self.now = now
        self.day = day
        self.block_bytes = block_bytes
        self.report = IngestReport(ingest_id, source_key, "accepted", ingested_at=now.isoformat())
        self.tally: ValidationTally | None = None
        self.workdir = tempfile.mkdtemp(prefix="ingest-", dir=lakehouse.lake.scratch_dir())
        self.good_path = os.path.join(self.workdir, "good.parquet")
        self.bad_path = os.path.join(self.workdir, "quarantine.parquet")
        self.reasons: collections.Counter = collections.Counter()
        self.bad_writer: pq.ParquetWriter | None = None  # open while batches are validated
        self.per_meter: collections.Counter = collections.Counter()
        self.plain: Upload | None = None

    def cleanup(self) -> None:
        if self.plain is not None:
            self.plain.release()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- the flow -------------------------------------------------------------

    def execute(self, lake_key: str) -> IngestReport:
        report = self.report
        try:
            self.plain = self.upload.plain()
            dialect = detect_dialect(self.plain, self.options, self.source_key)
            self.options = dialect.options  # with what the file decided (a timezone in its header)
            report.dialect = dialect.record(self.options)
            csv_upload = read_upload(self.plain, dialect.table, _block_bytes_for(dialect, self.block_bytes))
            # One quarantine file for the whole run: rows set aside while reading and
            # duplicates found across batches afterwards go to the same writer.
            with pq.ParquetWriter(self.bad_path, QUARANTINE_SCHEMA, compression="snappy") as self.bad_writer:
                if self._validate_batches(csv_upload, dialect):
                    self._quarantine_duplicates_across_batches()
            report.dialect["readings_per_meter"] = dict(self.per_meter.most_common())
        except FileRejected as rejected:
            return self._reject(rejected, rows_written=False)
        except OSError:
            raise  # storage or disk: nothing is committed, a retry starts again
        except Exception as error:  # a fault this file ran into: recorded, never a traceback
            first_line = (str(error).splitlines() or [""])[0][:120]
            return self._reject(
                FileRejected(
                    f"the ingest stopped on an unexpected error ({type(error).__name__}: {first_line}); the file "
                    "is kept in quarantine and is read again when it is uploaded again; report it if it recurs",
                    "internal_error",
                ),
                rows_written=False,
            )

        report.rows_quarantined = sum(self.reasons.values())
        report.rows_landed = report.rows_in - report.rows_quarantined
        report.reasons = _top_reasons(self.reasons)
        share = report.rows_quarantined / report.rows_in if report.rows_in else 1.0
        within_limit = not report.rows_quarantined or share <= self.options.max_bad_row_share
        self._write_quarantine()
        self._write_dq(self.tally.records() + [self._csv_shape_record(), self._limit_record(within_limit)])
        if not within_limit:
            top_reason = next(iter(report.reasons))
            return self._reject(
                FileRejected(
                    f"{report.rows_quarantined} of {report.rows_in} rows ({share:.0%}) failed the row rules, "
                    f"above the limit of {self.options.max_bad_row_share:.0%}; most common: {top_reason}",
                    "too_many_bad_rows",
                ),
                rows_written=True,
            )
        with self.lakehouse.lake.staged(lake_key) as staged:
            shutil.move(self.good_path, staged)
        report.lake_object = self.lakehouse.lake.uri(lake_key)
        report.message = f"landed {report.rows_landed:,} of {report.rows_in:,} rows" + (
            f"; quarantined {report.rows_quarantined:,}" if report.rows_quarantined else ""
        )
        return report

    def _validate_batches(self, csv_upload, dialect: Dialect) -> bool:
        """Type, validate and stage every batch. Returns whether batches hold readings of
        the same meter over overlapping times, the only case where duplicates can hide
        between batches (sorted files, the usual case, never do)."""
        self.tally = validator().new_tally({"max_kw": self.options.max_kw})
        self.malformed_total = 0
        state = StreamState(descending=dialect.descending)
        seen_ranges: dict[str, tuple[int, int]] = {}
        overlapping = False
        ingested_at = pa.scalar(self.now.replace(tzinfo=None), pa.timestamp("ms"))
        with _BackgroundParquetWriter(self.good_path, LAKE_SCHEMA) as good_writer:
            total_bytes = self.plain.size()
            for batch in csv_upload.batches:
                if self.progress is not None:
                    self.progress(batch.end_offset, total_bytes)
                self.malformed_total += len(batch.malformed_rows)
                self.report.rows_in += len(batch.malformed_rows)
                if batch.malformed_rows:
                    self._quarantine_rows(
                        [m[0] for m in batch.malformed_rows],
                        [m[2] for m in batch.malformed_rows],
                        [m[1] for m in batch.malformed_rows],
                    )
                if batch.table.num_rows == 0:
                    continue
                readings = normalise(batch, dialect, self.options, self.now, state)
                # Counts are of readings: a wide row holds one per interval or meter.
                self.report.rows_in += readings.num_rows
                checked = validator().validate(readings, {"max_kw": self.options.max_kw})
                if checked.table_failure:
                    raise FileRejected(checked.table_failure, "table_rule")
                self.tally.add(checked)
                bad = checked.row_reasons != None  # noqa: E711 (element-wise on an object array)
                if bad.any():
                    positions = np.flatnonzero(bad)
                    self._quarantine_rows(
                        readings["row_number"].to_numpy()[positions].tolist(),
                        [str(r) for r in checked.row_reasons[positions]],
                        _raw_records(batch.table, readings["batch_row"].to_numpy()[positions]),
                    )
                    readings = readings.filter(pa.array(~bad))
                count = readings.num_rows
                if count == 0:
                    continue
                self.report.readings_missing += pc.sum(pc.equal(readings["quality"], "missing")).as_py() or 0
                self.per_meter.update(dict(zip(*[c.to_pylist() for c in pc.value_counts(readings["meter_id"]).flatten()])))
                overlapping = _track_ranges(readings, seen_ranges) or overlapping
                readings = _with_net_complements(readings.filter(pc.invert(readings["part_of_sum"])))
                count = readings.num_rows
                self.report.lake_rows += count
                good_writer.write(
                    pa.table(
                        {
                            "meter_id": readings["meter_id"],
                            "reading_start": readings["reading_start"],
                            "interval_minutes": readings["interval_minutes"],
                            "kwh": readings["kwh"],
                            "timezone": readings["timezone"],
                            "flow": readings["flow"],
                            "quality": readings["quality"],
                            "quality_code": readings["quality_code"],
                            "source_key": pa.repeat(pa.scalar(self.source_key, pa.string()), count),
                            "source_row": readings["row_number"],
                            "ingest_id": pa.repeat(pa.scalar(self.report.ingest_id, pa.string()), count),
                            "ingested_at": pa.repeat(ingested_at, count),
                        },
                        schema=LAKE_SCHEMA,
                    )
                )
        return overlapping

    def _quarantine_rows(self, numbers: list[int], reasons: list[str], raw: list[str]) -> None:
        self.reasons.update(reasons)
        count = len(numbers)
        self.bad_writer.write_table(
            pa.table(
                {
                    "ingest_id": pa.repeat(pa.scalar(self.report.ingest_id, pa.string()), count),
                    "source_key": pa.repeat(pa.scalar(self.source_key, pa.string()), count),
                    "row_number": pa.array(numbers, pa.int64()),
                    "reason": pa.array(reasons, pa.string()),
                    "raw": pa.array(raw, pa.string()),
                    "quarantined_at": pa.repeat(pa.scalar(self.now.replace(tzinfo=None), pa.timestamp("ms")), count),
                },
                schema=QUARANTINE_SCHEMA,
            )
        )

    def _quarantine_duplicates_across_batches(self) -> None:
        """Repeats and conflicts between batches, found with DuckDB in bounded memory;
        the staged readings are rewritten without them only when there are any."""
        import duckdb

        with duckdb.connect() as con:
            con.execute("set memory_limit = '1GB'; set preserve_insertion_order = false")
            con.execute(f"set temp_directory = '{self.workdir}/duckdb'")
            con.execute(
                f"""
                create temp table doubtful as
                with keys as (
                    select meter_id, flow, reading_start, count(*) as n, max(kwh) - min(kwh) as spread
                    from read_parquet('{self.good_path}')
                    group by meter_id, flow, reading_start
                    having count(*) > 1
                ),
                rows_of_keys as (
                    select r.source_row, r.meter_id, r.flow, r.reading_start, r.kwh, keys.spread,
                           row_number() over (partition by r.meter_id, r.flow, r.reading_start order by r.source_row) as copy
                    from read_parquet('{self.good_path}') as r
                    join keys using (meter_id, flow, reading_start)
                )
                select source_row, meter_id, flow, reading_start, kwh,
                       case when spread > 1e-9 then 'conflict' else 'repeat' end as kind
                from rows_of_keys
                where spread > 1e-9 or copy > 1
                """
            )
            doubtful = con.sql("select * from doubtful order by source_row").to_arrow_table()
            if doubtful.num_rows == 0:
                return
            rewritten = os.path.join(self.workdir, "good-deduplicated.parquet")
            con.execute(
                f"""
                copy (
                    select * from read_parquet('{self.good_path}') as r
                    -- a wide row holds many readings: drop the doubtful readings, not their rows
                    where not exists (
                        select 1 from doubtful as d
                        where d.source_row = r.source_row and d.meter_id = r.meter_id
                            and d.reading_start = r.reading_start
                    )
                ) to '{rewritten}' (format parquet, compression snappy)
                """
            )
        os.replace(rewritten, self.good_path)
        kinds = doubtful["kind"].to_pylist()
        reasons = [CONFLICT_REASON if k == "conflict" else REPEAT_REASON for k in kinds]
        raw = [
            json.dumps({"meter_id": m, "reading_start": str(t), "kwh": v})
            for m, t, v in zip(doubtful["meter_id"].to_pylist(), doubtful["reading_start"].to_pylist(), doubtful["kwh"].to_pylist())
        ]
        self._quarantine_rows(doubtful["source_row"].to_pylist(), reasons, raw)
        self.tally.add_failures(REPEAT_EXPECTATION, kinds.count("repeat"), [])
        self.tally.add_failures(CONFLICT_EXPECTATION, kinds.count("conflict"), [])

    # -- records --------------------------------------------------------------

    def _write_quarantine(self) -> None:
        if not sum(self.reasons.values()):
            return
        key = f"rows/ingest_date={self.day}/{self.report.ingest_id}.parquet"
        with self.lakehouse.quarantine.staged(key) as staged:
            shutil.move(self.bad_path, staged)
        self.report.quarantine_object = self.lakehouse.quarantine.uri(key)

    def _csv_shape_record(self) -> dict:
        return {
            "expectation": "csv_rows_have_header_field_count",
            "level": "row",
            "success": not self.malformed_total,
            "element_count": self.report.rows_in,
            "unexpected_count": self.malformed_total,
            "reason": "rows must have as many fields as the header",
        }

    def _limit_record(self, success: bool) -> dict:
        return {
            "expectation": "bad_row_share_within_limit",
            "level": "table",
            "success": success,
            "element_count": self.report.rows_in,
            "unexpected_count": 0 if success else self.report.rows_quarantined,
            "reason": f"at most {self.options.max_bad_row_share:.0%} of rows may fail the row rules",
        }

    def _write_dq(self, records: list[dict]) -> None:
        count = len(records)
        evaluated_at = pa.scalar(self.now.replace(tzinfo=None), pa.timestamp("ms"))
        table = pa.table(
            {
                "ingest_id": pa.repeat(pa.scalar(self.report.ingest_id, pa.string()), count),
                "source_key": pa.repeat(pa.scalar(self.source_key, pa.string()), count),
                **{
                    name: pa.array([r[name] for r in records], DQ_SCHEMA.field(name).type)
                    for name in ("expectation", "level", "success", "element_count", "unexpected_count", "reason")
                },
                "evaluated_at": pa.repeat(evaluated_at, count),
            },
            schema=DQ_SCHEMA,
        )
        self.lakehouse.dq.write_parquet(f"validations/ingest_date={self.day}/{self.report.ingest_id}.parquet", table)
        if self.tally is not None:
            self.lakehouse.dq.write_json(
                f"gx_results/{self.report.ingest_id}.json",
                self.tally.to_gx_result(self.report.ingest_id, self.source_key, self.now),
            )

    def _reject(self, rejected: FileRejected, rows_written: bool) -> IngestReport:
        """Keep the whole upload in quarantine with its reason; nothing lands."""
        report = self.report
        report.outcome = "rejected"
        report.rejection_code = rejected.code
        report.message = rejected.reason
        report.rows_landed = 0
        report.rows_quarantined = report.rows_in
        if not report.reasons:
            report.reasons = {rejected.reason: report.rows_in}
        name = self.source_key.rsplit("/", 1)[-1] or "upload"
        folder = f"files/{report.ingest_id}"
        with self.lakehouse.quarantine.staged(f"{folder}/{name}") as staged:
            with open(staged, "wb") as out:
                for chunk in self.upload.chunks():
                    out.write(chunk)
        report.quarantine_object = self.lakehouse.quarantine.uri(f"{folder}/{name}")
        self.lakehouse.quarantine.write_json(
            f"{folder}/reason.json",
            {
                "source_key": self.source_key,
                "reason": rejected.reason,
                "code": rejected.code,
                "rows_in": report.rows_in,
                "rejected_at": self.now.isoformat(),
            },
        )
        if not rows_written:
            self.tally = None
            self._write_dq(
                [
                    {
                        "expectation": f"file_is_usable({rejected.code})",
                        "level": "file",
                        "success": False,
                        "element_count": report.rows_in,
                        "unexpected_count": max(report.rows_in, 1),  # at least the file itself
                        "reason": rejected.reason,
                    }
                ]
            )
        return report


def _block_bytes_for(dialect: Dialect, block_bytes: int) -> int:
    """Smaller pieces for wide files: a wide row holds one reading per interval or meter
    (96 in a quarter-hour day row, against one in a long row of about the same width
    per reading), so memory per piece follows readings, not bytes."""
    per_row = len(dialect.layout.slots) or len(dialect.layout.values)
    scale = max(1, per_row // 8)
    return max(min(block_bytes, 1 << 20), block_bytes // scale)


def _with_net_complements(readings: pa.Table) -> pa.Table:
    """A net meter's reading lands as both directions: a positive value is import with
    zero export in that interval, a negative one export with zero import, so both
    series are complete and neither is ever summed into the other."""
    if not readings.num_rows or not readings["is_net"][0].as_py():
        return readings
    other = pc.if_else(pc.equal(readings["flow"], "import"), pa.scalar("export"), pa.scalar("import"))
    zero = pc.if_else(pc.is_valid(readings["kwh"]), pa.scalar(0.0), pa.scalar(None, pa.float64()))
    complement = readings.set_column(readings.schema.get_field_index("flow"), "flow", other)
    complement = complement.set_column(complement.schema.get_field_index("kwh"), "kwh", zero)
    return pa.concat_tables([readings, complement])


def _top_reasons(reasons: collections.Counter, keep: int = 20) -> dict[str, int]:
    """The most common reasons; the rest summed, so a report stays small whatever the file."""
    top = dict(reasons.most_common(keep))
    rest = sum(reasons.values()) - sum(top.values())
    if rest:
        top[f"({len(reasons) - keep} other reasons)"] = rest
    return top


def _track_ranges(readings: pa.Table, seen: dict[str, tuple[int, int]]) -> bool:
    """Add this batch's time range per meter to ``seen``; True when a meter's range
    overlaps what earlier batches held for it."""
    ranges = readings.group_by("meter_id").aggregate([("reading_start", "min"), ("reading_start", "max")])
    overlap = False
    for meter, low, high in zip(
        ranges["meter_id"].to_pylist(),
        pc.cast(ranges["reading_start_min"], pa.int64()).to_pylist(),
        pc.cast(ranges["reading_start_max"], pa.int64()).to_pylist(),
    ):
        before = seen.get(meter)
        if before is None:
            seen[meter] = (low, high)
            continue
        overlap = overlap or (low <= before[1] and high >= before[0])
        seen[meter] = (min(low, before[0]), max(high, before[1]))
    return overlap


class _BackgroundParquetWriter:
    """Writes tables to one Parquet file in a thread of its own, so compression and I/O
    (which release the GIL) overlap with validating the next batch."""

    def __init__(self, path: str, schema: pa.Schema):
        self._writer = pq.ParquetWriter(path, schema, compression="snappy")
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (table := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._writer.write_table(table)
                except BaseException as exc:  # raised in the caller's thread
                    self._error = exc

    def write(self, table: pa.Table) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(table)

    def __enter__(self) -> _BackgroundParquetWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self._queue.put(None)
        self._thread.join()
        self._writer.close()
        if self._error is not None and exc_info[0] is None:
            raise self._error


def _raw_records(table: pa.Table, positions: np.ndarray) -> list[str]:
    # Values are cut at 500 characters: a quarantine record explains a row, the whole
    # upload stays untouched in raw/.
    subset = table.take(pa.array(positions, pa.int64()))
    return [
        json.dumps({k: (v[:500] if isinstance(v, str) else v) for k, v in row.items()}, ensure_ascii=False) for row in subset.to_pylist()
    ]
