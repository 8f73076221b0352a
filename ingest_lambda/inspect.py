"""What an ingest would decide about a file, and its first readings as they would land,
without landing anything (``energy inspect``)."""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from .detect import detect_dialect
from .normalise import StreamState, normalise
from .options import IngestOptions
from .parse import Upload, read_upload
from .pipeline import IngestReport, ingest_file
from .storage import Lakehouse

PREVIEW_BLOCK_BYTES = 1 << 20


@dataclass
class Inspection:
    dialect: dict  # detect.Dialect.record(): what was detected and why
    readings: pa.Table  # the first readings: row, meter, start (local, with its UTC offset), minutes, kWh, flow, quality[, problem]


def inspect_file(path: Path, options: IngestOptions, source_key: str | None = None, rows: int = 10) -> Inspection:
    """Detect the dialect of ``path`` and normalise its first rows.

    Raises FileRejected (DialectAmbiguous included) with the same message an ingest
    would give. Row problems (a cell that cannot be read) are shown per reading in
    ``problem``; the row rules of the validation suite are not run.
    """
    upload = Upload(path=Path(path))
    plain = upload.plain()
    try:
        key = source_key or f"raw/{Path(path).name}"
        dialect = detect_dialect(plain, options, key)
        options = dialect.options
        batches = read_upload(plain, dialect.table, PREVIEW_BLOCK_BYTES).batches
        first = next(iter(batches))
        readings = normalise(first, dialect, options, dt.datetime.now(dt.UTC), StreamState(descending=dialect.descending))
    finally:
        plain.release()
    head = readings.filter(pc.invert(readings["part_of_sum"])).slice(0, rows)  # as the lake would hold them
    zoned = pc.cast(pc.cast(head["reading_start"], pa.timestamp("ms", "UTC")), pa.timestamp("ms", options.timezone))
    columns = {
        "row": head["row_number"],
        "meter": head["meter_id"],
        # local wall-clock time and its offset from UTC: both conventions' days show
        "start (local)": pc.strftime(zoned, format="%Y-%m-%d %H:%M%z"),
        "minutes": head["interval_minutes"],
        "kWh": head["kwh"],
        "flow": head["flow"],
        "quality": head["quality"],
    }
    if head["parse_error"].null_count < head.num_rows:
        columns["problem"] = head["parse_error"]
    table = pa.table(columns)
    return Inspection(dialect.record(options), table)


def dry_run(path: Path, options: IngestOptions, source_key: str | None = None) -> IngestReport:
    """Ingest the whole of ``path`` into a throwaway local lake and return the report:
    the verdict a real ingest would give this file on its own (accepted with its landed
    and quarantined rows, or rejected with the reason), every rule included. Nothing
    outside a temporary folder is written. Reads the whole file, so it takes as long as
    an ingest."""
    with tempfile.TemporaryDirectory(prefix="energy-inspect-") as scratch:
        return ingest_file(Path(path), source_key or f"raw/{Path(path).name}", Lakehouse.local(scratch), options)
