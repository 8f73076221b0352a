"""Bytes of an upload into an Arrow table of text columns.

Decompression, BOM, delimiter detection and CSV parsing happen here; nothing is typed
yet, so a bad value in one row can never make the whole file unreadable. Rows whose
field count does not match the header are set aside with their line text.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.csv as pacsv

UTF8_BOM = b"\xef\xbb\xbf"
GZIP_MAGIC = b"\x1f\x8b"
CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
MAX_LINE_BYTES = 1 << 20


class FileRejected(Exception):
    """The upload as a whole cannot be used; the message says what to do about it."""

    def __init__(self, reason: str, code: str):
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass
class ParsedUpload:
    table: pa.Table  # all columns as strings, header names as given
    delimiter: str
    row_numbers: pa.Array  # 1-based data-row number of each table row (header excluded)
    malformed_rows: list[tuple[int, str, str]] = field(default_factory=list)  # (row, text, reason)

    @property
    def rows_in(self) -> int:
        return self.table.num_rows + len(self.malformed_rows)


def decode_upload(data: bytes) -> bytes:
    """Gunzip if needed, drop a UTF-8 BOM, and refuse what is not text."""
    if data.startswith(GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error):
            raise FileRejected(
                "the gzip file is truncated or corrupt; upload it again, complete", "corrupt_gzip"
            ) from None
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM):]
    if not data.strip():
        raise FileRejected("the file is empty: it holds no header and no rows", "empty_file")
    head = data[:65536]
    if b"\x00" in head:
        raise FileRejected(
            "the file is binary, not a CSV text file (an Excel .xlsx? export it as CSV)", "not_text"
        )
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A cut in the middle of a multi-byte character at the end of the sample is fine.
        if exc.start < len(head) - 4:
            raise FileRejected(
                "the file is not UTF-8 text; save it as CSV UTF-8", "not_utf8"
            ) from None
    return data


def detect_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in CANDIDATE_DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def parse_csv(data: bytes) -> ParsedUpload:
    text = decode_upload(data)
    header_end = text.find(b"\n")
    header_bytes = text if header_end < 0 else text[:header_end]
    if len(header_bytes) > MAX_LINE_BYTES:
        raise FileRejected("the header line is longer than 1 MiB: this is not a meter CSV", "huge_line")
    header_line = header_bytes.decode("utf-8", errors="replace").rstrip("\r")
    delimiter = detect_delimiter(header_line)
    names = [n.strip() for n in next(csv.reader([header_line], delimiter=delimiter))]
    if not any(names):
        raise FileRejected("the first line is blank: the file must start with a header row", "no_header")
    if len(set(names)) != len(names):
        raise FileRejected(f"the header repeats a column name: {names}", "duplicate_header")

    malformed: list[tuple[int, str, str]] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        malformed.append(
            (
                (row.number or 0) - 1,
                (row.text or "")[:500],
                f"row has {row.actual_columns} fields but the header has {row.expected_columns}",
            )
        )
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(text),
            read_options=pacsv.ReadOptions(
                column_names=names, skip_rows=1, block_size=1 << 22, use_threads=False
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, invalid_row_handler=on_invalid_row
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        message = str(exc)
        if "straddling" in message or "block size" in message:
            raise FileRejected("a line is longer than 4 MiB: this is not a meter CSV", "huge_line") from None
        raise FileRejected(f"the CSV cannot be parsed: {message.splitlines()[0]}", "unparseable_csv") from None

    if table.num_rows == 0 and not malformed:
        raise FileRejected("the file has a header but no data rows", "header_only")
    row_numbers = _row_numbers(table.num_rows, [m[0] for m in malformed])
    return ParsedUpload(table, delimiter, row_numbers, malformed)


def _row_numbers(kept: int, skipped: list[int]) -> pa.Array:
    """Data-row numbers of the kept rows, given the numbers of the skipped ones.

    pyarrow drops invalid rows without telling which output rows surround them, so the
    kept rows' numbers are 1..N with the skipped numbers taken out. Blank lines are
    not rows and are not counted by pyarrow either, so the numbers count data rows.
    """
    import numpy as np

    total = kept + len(skipped)
    numbers = np.arange(1, total + 1, dtype=np.int64)
    if skipped:
        numbers = np.setdiff1d(numbers, np.asarray(skipped, dtype=np.int64), assume_unique=True)
    return pa.array(numbers[:kept])
