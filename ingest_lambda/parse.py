"""An upload's bytes into batches of text columns.

Decompression, BOM, delimiter detection and CSV parsing happen here; nothing is typed
yet, so a bad value in one row can never make the whole file unreadable. Rows whose
field count does not match the header are set aside with their line text. The file is
read in blocks, so memory stays bounded whatever its size.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import queue
import shutil
import tempfile
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from .errors import FileRejected

UTF8_BOM = b"\xef\xbb\xbf"
GZIP_MAGIC = b"\x1f\x8b"
MAX_HEADER_BYTES = 1 << 20
DEFAULT_BLOCK_BYTES = 32 << 20


@dataclass
class TextBatch:
    table: pa.Table  # all columns as strings, header names as given
    row_numbers: pa.Array  # 1-based data-row number of each row (header and blank lines excluded)
    malformed_rows: list[tuple[int, str, str]] = field(default_factory=list)  # (row, text, reason)
    end_offset: int = 0  # bytes of the (uncompressed) upload read once this batch is done

    @property
    def rows_in(self) -> int:
        return self.table.num_rows + len(self.malformed_rows)


@dataclass
class CsvUpload:
    names: list[str]
    delimiter: str
    batches: Iterator[TextBatch]


class Upload:
    """The bytes of one upload: in memory, or a local file (large uploads, Lambda /tmp).

    A gzip upload is inflated to a temporary file first, so the CSV reader works on
    plain bytes with native I/O and a truncated archive is refused before anything
    is parsed.
    """

    def __init__(self, data: bytes | None = None, path: Path | None = None):
        if (data is None) == (path is None):
            raise ValueError("give the bytes or a path")
        self._data = data
        self._path = path
        self._inflated: Path | None = None

    def head(self, size: int) -> bytes:
        if self._data is not None:
            return self._data[:size]
        with open(self._path, "rb") as handle:
            return handle.read(size)

    def tail(self, size: int) -> bytes:
        """The last ``size`` bytes."""
        if self._data is not None:
            return self._data[-size:]
        with open(self._path, "rb") as handle:
            handle.seek(max(0, self.size() - size))
            return handle.read(size)

    def chunks(self, size: int = 8 << 20) -> Iterator[bytes]:
        if self._data is not None:
            yield self._data
            return
        with open(self._path, "rb") as handle:
            while chunk := handle.read(size):
                yield chunk

    def plain(self) -> "Upload":
        """The upload with any gzip layer removed."""
        if not self.head(2).startswith(GZIP_MAGIC):
            return self
        try:
            if self._data is not None:
                return Upload(data=gzip.decompress(self._data))
            handle, name = tempfile.mkstemp(prefix="upload-", suffix=".csv")
            with os.fdopen(handle, "wb") as out, gzip.open(self._path, "rb") as source:
                shutil.copyfileobj(source, out, 8 << 20)
        except (EOFError, OSError, zlib.error):
            raise FileRejected(
                "the gzip file is truncated or corrupt; upload it again, complete", "corrupt_gzip"
            ) from None
        inflated = Upload(path=Path(name))
        inflated._inflated = Path(name)
        return inflated

    def size(self) -> int:
        return len(self._data) if self._data is not None else self._path.stat().st_size

    def open_binary(self):
        return io.BytesIO(self._data) if self._data is not None else open(self._path, "rb")

    def release(self) -> None:
        if self._inflated is not None:
            self._inflated.unlink(missing_ok=True)


def _check_text(head: bytes) -> bytes:
    if head.startswith(UTF8_BOM):
        head = head[len(UTF8_BOM):]
    if not head.strip():
        raise FileRejected("the file is empty: it holds no header and no rows", "empty_file")
    if b"\x00" in head:
        raise FileRejected(
            "the file is binary, not a CSV text file (an Excel .xlsx? export it as CSV)", "not_text"
        )
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A cut in the middle of a multi-byte character at the end of the sample is fine.
        if exc.start < len(head) - 4:
            raise FileRejected("the file is not UTF-8 text; save it as CSV UTF-8", "not_utf8") from None
    return head


def check_text(upload: Upload) -> bytes:
    """The first MiB of the upload, checked to be UTF-8 text (BOM kept)."""
    raw_head = upload.head(MAX_HEADER_BYTES + 1)
    _check_text(raw_head)
    return raw_head


def read_upload(upload: Upload, table, block_bytes: int = DEFAULT_BLOCK_BYTES) -> CsvUpload:
    """The file's rows from where the table starts (``table``: a dialect.TableStart),
    as a stream of text batches.

    Errors found later in the file (a line too long for a block, a broken quote) raise
    FileRejected from the batch iterator.
    """
    return CsvUpload(
        table.names, table.delimiter, _batches(upload, table.data_offset, table.names, table.delimiter, block_bytes)
    )


MAX_LINE_BYTES = 64 << 20


def _line_chunks(stream, block_bytes: int) -> Iterator[bytes]:
    """The stream in pieces of about ``block_bytes`` that end at a line break outside
    quotes, so every piece parses on its own. Memory holds one piece at a time."""
    carry = b""
    while True:
        block = stream.read(block_bytes)
        if not block:
            if carry:
                yield carry
            return
        buffer = carry + block
        cut = buffer.rfind(b"\n") + 1
        # An odd number of quotes before the cut means it falls inside a quoted field.
        while cut and buffer.count(b'"', 0, cut) % 2:
            cut = buffer.rfind(b"\n", 0, cut - 1) + 1
        if not cut:
            if len(buffer) > MAX_LINE_BYTES:
                raise FileRejected(
                    f"a line is longer than {MAX_LINE_BYTES >> 20} MiB: this is not a meter CSV", "huge_line"
                )
            carry = buffer
            continue
        carry = buffer[cut:]
        yield buffer[:cut]


def _parse_chunk(chunk: bytes, names: list[str], delimiter: str, exact: bool) -> tuple[pa.Table, list]:
    """One piece of CSV into text columns. Parallel parsing cannot say where a malformed
    row is, so a piece with one is parsed again single-threaded, where pyarrow numbers
    every row (numbers count rows within the piece, blank lines excluded)."""
    malformed: list[tuple[int, str, str]] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        malformed.append(
            (
                row.number or 0,
                (row.text or "")[:500],
                f"row has {row.actual_columns} fields but the header has {row.expected_columns}",
            )
        )
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.BufferReader(chunk),
            read_options=pacsv.ReadOptions(column_names=names, block_size=max(len(chunk), 1 << 20), use_threads=not exact),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid_row),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise FileRejected(f"the CSV cannot be parsed: {str(exc).splitlines()[0]}", "unparseable_csv") from None
    if malformed and not exact:
        return _parse_chunk(chunk, names, delimiter, exact=True)
    return table, malformed


def _batches(
    upload: Upload, data_offset: int, names: list[str], delimiter: str, block_bytes: int
) -> Iterator[TextBatch]:
    """Text batches of the upload, parsed in a thread of its own one piece ahead of the
    batch being validated (a bounded queue keeps memory flat)."""

    def produce(into: queue.Queue) -> None:
        before = 0  # data rows in earlier pieces
        offset = data_offset
        try:
            with upload.open_binary() as stream:
                stream.seek(data_offset)
                for chunk in _line_chunks(stream, block_bytes):
                    offset += len(chunk)
                    table, malformed = _parse_chunk(chunk, names, delimiter, exact=False)
                    skipped = [(before + number, text, reason) for number, text, reason in malformed]
                    numbers = _row_numbers(before + 1, table.num_rows, {m[0] for m in skipped})
                    before += table.num_rows + len(skipped)
                    into.put(("batch", TextBatch(table, pa.array(numbers), skipped, offset)))
            into.put(("end", None))
        except BaseException as exc:  # handed to the consumer, which raises it
            into.put(("error", exc))

    ahead: queue.Queue = queue.Queue(maxsize=1)
    thread = threading.Thread(target=produce, args=(ahead,), daemon=True)
    thread.start()
    total_rows = 0
    try:
        while True:
            kind, payload = ahead.get()
            if kind == "error":
                raise payload
            if kind == "end":
                break
            total_rows += payload.rows_in
            yield payload
    finally:
        # Let a producer blocked on a full queue finish when the consumer stops early.
        while thread.is_alive():
            try:
                ahead.get(timeout=0.05)
            except queue.Empty:
                pass
    if total_rows == 0:
        raise FileRejected("the file has a header but no data rows", "header_only")


def _row_numbers(start: int, kept: int, skipped: set[int]) -> np.ndarray:
    """The first ``kept`` data-row numbers from ``start`` on that are not skipped rows."""
    numbers = np.arange(start, start + kept + len(skipped) + 1, dtype=np.int64)
    if skipped:
        numbers = numbers[~np.isin(numbers, np.fromiter(skipped, dtype=np.int64))]
    return numbers[:kept]
