"""An upload's bytes into batches of text columns.

Decompression, BOM, delimiter detection and CSV parsing happen here; nothing is typed
yet, so a bad value in one row can never make the whole file unreadable. Rows whose
field count does not match the header are set aside with their line text. The file is
read in blocks, so memory stays bounded whatever its size.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import queue
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
# A wide export has one column per meter or per interval of a day (at most 1,440 at one
# minute), so a few hundred in practice; 2,000 leaves room for both and refuses, before any
# row is parsed, headers that cost pyarrow seconds and gigabytes per block to read.
MAX_COLUMNS = 2000
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


# An inflated gzip upload is capped twice. Absolutely: a Lambda's /tmp holds at most
# 10 GiB and already holds the compressed upload, so 8 GiB (about 170 million long-format
# readings) is the most one ingest can inflate. Relative to the compressed size: meter
# CSVs compress 5 to 10 times (measured on generated long-format and seed files), and
# deflate cannot exceed about 1,030 times, a ratio only bombs come near; 200 times leaves
# room for very repetitive exports. The ratio is checked only past 64 MiB, as a small
# file of repeated lines can compress far better and costs nothing to inflate.
MAX_INFLATED_BYTES = 8 << 30
MAX_INFLATE_RATIO = 200
INFLATE_RATIO_FROM_BYTES = 64 << 20
COPY_BYTES = 8 << 20


class Upload:
    """The bytes of one upload: in memory, or a local file (large uploads, Lambda /tmp).

    A gzip upload is inflated to a temporary file first, in a stream with a cap, so the
    CSV reader works on plain bytes with native I/O and a truncated archive is refused
    before anything is parsed. ``digest`` is the SHA-256 of the bytes when the caller
    computed it while copying them, so they are not read again to name the ingest.
    """

    def __init__(self, data: bytes | None = None, path: Path | None = None, digest: str | None = None):
        if (data is None) == (path is None):
            raise ValueError("give the bytes or a path")
        self._data = data
        self._path = path
        self._digest = digest
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

    def chunks(self, size: int = COPY_BYTES) -> Iterator[bytes]:
        if self._data is not None:
            yield self._data
            return
        with open(self._path, "rb") as handle:
            while chunk := handle.read(size):
                yield chunk

    def sha256(self) -> str:
        """Hex SHA-256 of the upload's bytes (as uploaded, before any inflation)."""
        if self._digest is None:
            digest = hashlib.sha256()
            for chunk in self.chunks():
                digest.update(chunk)
            self._digest = digest.hexdigest()
        return self._digest

    def plain(self) -> Upload:
        """The upload with any gzip layer removed and old Mac line ends (CR only) read
        as line feeds. The result may be a temporary file: ``release`` deletes it."""
        head = self.head(MAX_HEADER_BYTES)
        if head.startswith(GZIP_MAGIC):
            with self.open_binary() as compressed:
                return _write_plain(gzip.GzipFile(fileobj=compressed, mode="rb"), self.size())
        if not _cr_only(head):
            return self
        if self._data is not None:
            return Upload(data=self._data.replace(b"\r", b"\n"))
        with self.open_binary() as source:
            return _write_plain(source, None)

    def size(self) -> int:
        return len(self._data) if self._data is not None else self._path.stat().st_size

    def open_binary(self):
        return io.BytesIO(self._data) if self._data is not None else open(self._path, "rb")

    def release(self) -> None:
        if self._inflated is not None:
            self._inflated.unlink(missing_ok=True)


def _cr_only(head: bytes) -> bool:
    """Lines end in a carriage return alone ("CSV (Macintosh)" exports of old spreadsheets)."""
    return b"\r" in head and b"\n" not in head


def _write_plain(source, compressed_size: int | None) -> Upload:
    """Copy ``source`` (a gzip stream when ``compressed_size`` is given) to a temporary
    file: the first MiB is checked before going on, gzip output is capped, CR-only line
    ends become line feeds. The file is deleted on every way out but success."""

    def read(size: int) -> bytes:
        if compressed_size is None:
            return source.read(size)
        try:
            return source.read(size)
        except (EOFError, OSError, zlib.error):
            raise FileRejected("the gzip file is truncated or corrupt; upload it again, complete", "corrupt_gzip") from None

    handle, name = tempfile.mkstemp(prefix="upload-", suffix=".csv")
    try:
        with os.fdopen(handle, "wb") as out:
            head = b""
            while len(head) < MAX_HEADER_BYTES and (piece := read(MAX_HEADER_BYTES - len(head))):
                head += piece
            if compressed_size is not None and b"\x00" in head:
                raise FileRejected(
                    "the gzip file holds binary data, not a CSV text file (an Excel .xlsx? export it as CSV)",
                    "not_text",
                )
            cr_only = _cr_only(head)
            written = 0
            chunk = head
            while chunk:
                written += len(chunk)
                if compressed_size is not None:
                    _check_inflated(written, compressed_size)
                out.write(chunk.replace(b"\r", b"\n") if cr_only else chunk)
                chunk = read(COPY_BYTES)
    except BaseException:
        os.unlink(name)
        raise
    plain = Upload(path=Path(name))
    plain._inflated = Path(name)
    return plain


def _check_inflated(inflated: int, compressed: int) -> None:
    if inflated > MAX_INFLATED_BYTES:
        raise FileRejected(
            f"the gzip file inflates to more than {MAX_INFLATED_BYTES >> 30} GiB, more than one upload may hold; "
            "split it into smaller files",
            "gzip_too_large",
        )
    if inflated > INFLATE_RATIO_FROM_BYTES and inflated > MAX_INFLATE_RATIO * compressed:
        raise FileRejected(
            f"the gzip file inflates to more than {MAX_INFLATE_RATIO} times its size, which no meter export does "
            "(a zip bomb?); upload the CSV itself or a normal gzip of it",
            "gzip_bomb",
        )


def _check_text(head: bytes) -> bytes:
    if head.startswith(UTF8_BOM):
        head = head[len(UTF8_BOM) :]
    if not head.strip():
        raise FileRejected("the file is empty: it holds no header and no rows", "empty_file")
    if b"\x00" in head:
        raise FileRejected("the file is binary, not a CSV text file (an Excel .xlsx? export it as CSV)", "not_text")
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
    return CsvUpload(table.names, table.delimiter, _batches(upload, table.data_offset, table.names, table.delimiter, block_bytes))


MAX_LINE_BYTES = 64 << 20
UNCLOSED_QUOTE_REASON = "a double quote opens a field that is never closed; remove the stray quote (or close it) and upload the file again"
BAD_UTF8_REASON = "the row holds bytes that are not UTF-8 text (column {column!r}); save the file as CSV UTF-8"
_SCAN_SLICE = 4 << 20


def _structural_quotes(buffer: bytes, delimiter: str) -> np.ndarray:
    """Offsets of the quotes that can open or close a quoted field: those next to a
    delimiter, a line end or the buffer's ends (which starts a row). pyarrow reads a quote
    inside a field (``12" pipe``) as a plain character, and so is it ignored here; a doubled
    quote inside a quoted field is not next to a delimiter and is ignored too."""
    data = np.frombuffer(buffer, np.uint8)
    quotes = np.flatnonzero(data == 34)
    if not quotes.size:
        return quotes
    boundary = np.zeros(256, dtype=bool)
    boundary[[10, 13]] = True
    if len(delimiter.encode()) == 1:
        boundary[delimiter.encode()[0]] = True
    before = np.ones(quotes.size, dtype=bool)
    inner = quotes > 0
    before[inner] = boundary[data[quotes[inner] - 1]]
    after = np.ones(quotes.size, dtype=bool)
    inner = quotes < len(data) - 1
    after[inner] = boundary[data[quotes[inner] + 1]]
    return quotes[before | after]


def _last_row_end(buffer: bytes, quotes: np.ndarray, end: int) -> int:
    """Offset just past the last line break before ``end`` outside quotes (an even number
    of structural quotes before it), 0 when there is none. Slices are scanned from the end,
    so the work is proportional to what is scanned, and memory to one slice."""
    if not quotes.size or quotes[0] >= end:
        return buffer.rfind(b"\n", 0, end) + 1
    data = np.frombuffer(buffer, np.uint8)
    while end > 0:
        start = max(0, end - _SCAN_SLICE)
        lines = np.flatnonzero(data[start:end] == 10) + start
        outside = lines[np.searchsorted(quotes, lines) % 2 == 0]
        if outside.size:
            return int(outside[-1]) + 1
        end = start
    return 0


def _line_chunks(stream, block_bytes: int, delimiter: str = ",") -> Iterator[tuple[bytes, bool]]:
    """The stream in pieces of about ``block_bytes`` that end at a line break outside
    quotes, so every piece parses on its own; each with whether it is a row whose quote
    is never closed. Memory holds one piece at a time.

    Each byte is scanned a bounded number of times: a piece is scanned once, and a row
    left over is read on with a block at least as large as itself. A quote left open at
    the end of the file, or over more than ``MAX_LINE_BYTES``, is taken as a stray: its
    row (up to the end of that line) is handed over on its own, flagged, and reading goes
    on after it."""
    buffer = b""
    ended = False
    while buffer or not ended:
        if not ended:
            block = stream.read(max(block_bytes, len(buffer)))
            ended = not block
            buffer += block
            if not buffer:
                return
        quotes = _structural_quotes(buffer, delimiter)
        opened = int(quotes[-1]) if quotes.size % 2 else None
        if opened is not None and (ended or len(buffer) - opened > MAX_LINE_BYTES):
            row_start = _last_row_end(buffer, quotes, opened)
            line_end = buffer.find(b"\n", opened) + 1 or len(buffer)
            if row_start:
                yield buffer[:row_start], False
            yield buffer[row_start:line_end], True
            buffer = buffer[line_end:]
            continue
        if ended:
            yield buffer, False
            return
        cut = _last_row_end(buffer, quotes, len(buffer))
        if not cut:
            if len(buffer) > MAX_LINE_BYTES:
                raise FileRejected(f"a line is longer than {MAX_LINE_BYTES >> 20} MiB: this is not a meter CSV", "huge_line")
            continue
        yield buffer[:cut], False
        buffer = buffer[cut:]


def _parse_chunk(chunk: bytes, names: list[str], delimiter: str, exact: bool) -> tuple[pa.Table, list]:
    """One piece of CSV into text columns. Parallel parsing cannot say where a malformed
    row is, so a piece with one is parsed again single-threaded, where pyarrow numbers
    every row (numbers count rows within the piece, blank lines excluded). A piece with
    bytes that are not UTF-8 is read again as bytes, to set those rows aside."""
    malformed: list[tuple[int, str, str]] = []
    try:
        table = _read_piece(chunk, names, delimiter, exact, pa.string(), malformed)
    except pa.ArrowInvalid as exc:
        if "UTF8" not in str(exc):
            raise FileRejected(f"the CSV cannot be parsed: {str(exc).splitlines()[0]}", "unparseable_csv") from None
        return _parse_chunk_with_bad_utf8(chunk, names, delimiter)
    if malformed and not exact:
        return _parse_chunk(chunk, names, delimiter, exact=True)
    return table, malformed


def _read_piece(chunk: bytes, names: list[str], delimiter: str, exact: bool, kind: pa.DataType, malformed: list) -> pa.Table:
    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        malformed.append(
            (
                row.number or 0,
                (row.text or "")[:500],
                f"row has {row.actual_columns} fields but the header has {row.expected_columns}",
            )
        )
        return "skip"

    return pacsv.read_csv(
        pa.BufferReader(chunk),
        read_options=pacsv.ReadOptions(column_names=names, block_size=max(len(chunk), 1 << 20), use_threads=not exact),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid_row),
        convert_options=pacsv.ConvertOptions(
            column_types={n: kind for n in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def _parse_chunk_with_bad_utf8(chunk: bytes, names: list[str], delimiter: str) -> tuple[pa.Table, list]:
    """The piece read as bytes; rows with a value that is not UTF-8 are set aside with
    the column named, the others kept as text."""
    malformed: list[tuple[int, str, str]] = []
    try:
        raw = _read_piece(chunk, names, delimiter, True, pa.binary(), malformed)
    except pa.ArrowInvalid as exc:
        raise FileRejected(f"the CSV cannot be parsed: {str(exc).splitlines()[0]}", "unparseable_csv") from None
    reasons: dict[int, str] = {}
    for name, column in zip(names, raw.columns):
        try:
            column.cast(pa.string())
            continue
        except pa.ArrowInvalid:
            pass
        for position, value in enumerate(column.to_pylist()):
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                reasons.setdefault(position, BAD_UTF8_REASON.format(column=name))
    numbers = _row_numbers(1, raw.num_rows, {m[0] for m in malformed})
    values = raw.columns
    for position, reason in reasons.items():
        text = delimiter.join(v[position].as_py().decode("utf-8", errors="replace") for v in values)
        malformed.append((int(numbers[position]), text[:500], reason))
    keep = np.ones(raw.num_rows, dtype=bool)
    keep[list(reasons)] = False
    table = raw.filter(pa.array(keep)).cast(pa.schema([(n, pa.string()) for n in names]))
    return table, sorted(malformed)


def _batches(upload: Upload, data_offset: int, names: list[str], delimiter: str, block_bytes: int) -> Iterator[TextBatch]:
    """Text batches of the upload, parsed in a thread of its own one piece ahead of the
    batch being validated (a bounded queue keeps memory flat)."""

    def produce(into: queue.Queue) -> None:
        before = 0  # data rows in earlier pieces
        offset = data_offset
        try:
            with upload.open_binary() as stream:
                stream.seek(data_offset)
                for chunk, unclosed_quote in _line_chunks(stream, block_bytes, delimiter):
                    offset += len(chunk)
                    if unclosed_quote:
                        table = pa.table({n: pa.array([], pa.string()) for n in names})
                        malformed = [(1, chunk[:2000].decode("utf-8", errors="replace")[:500], UNCLOSED_QUOTE_REASON)]
                    else:
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
