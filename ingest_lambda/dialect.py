"""Where the table starts: delimiter, preamble, header row and column names.

Exports from utilities and portals put account blocks, banners, ``sep=;`` lines and
blank lines before the header, sometimes have no header at all, leave header cells
blank (an unnamed time column, as pandas writes an index), add blank trailing columns
(spreadsheets) or a trailing delimiter on data rows that the header lacks, and repeat
header names (side-by-side blocks). This module reads the first MiB of the upload and
finds the table in it; nothing here types a value.

The rule: data rows hold a date. The data block is the run of lines with the table's
field count that hold a date; the header is the line just before it when that line
holds none (else the file has no header). Preamble lines are counted, never quoted:
they carry account holders' names and addresses.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field

from .errors import FileRejected
from .parse import MAX_COLUMNS

UTF8_BOM = b"\xef\xbb\xbf"
CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
SAMPLE_LINES = 2000
SHAPE_LINES = 300  # lines that decide delimiter, preamble and header
# A date in a cell: ISO (2024-01-15), day or month first with . / - (15.01.2024,
# 1/15/24), or compact ISO with a time (20240115T0000).
DATE_IN_CELL = re.compile(r"(?<!\d)(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|\d{8}T\d{4})(?!\d)")
SEP_LINE = re.compile(r"^\s*\"?sep=(.)\"?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class TableStart:
    """Where the table starts in an upload's bytes, and its columns.

    ``names`` are unique column names (``#k`` for a blank or absent header cell,
    ``name#k`` for a repeated one, k the 1-based position); ``header`` keeps the
    header cells as written (empty for a headerless file). ``data_offset`` is the byte
    offset of the first data line in the plain (uncompressed) upload, BOM included.
    """

    delimiter: str
    names: list[str]
    header: list[str]
    data_offset: int
    header_row: int | None  # 1-based line number of the header, None when headerless
    preamble_lines: int  # lines before the header (or before the data when headerless)
    trailing_delimiter: bool = False  # data rows end with a delimiter the header lacks
    blank_columns: list[str] = field(default_factory=list)  # columns with no header and no value in the sample
    sample_rows: list[list[str]] = field(default_factory=list)  # data rows of the sample, as text cells
    header_guessed: bool = False  # no data row was found: the first line was taken as the header

    def column_position(self, name: str) -> int:
        return self.names.index(name) + 1


def _split(line: str, delimiter: str) -> list[str]:
    if '"' not in line:
        return line.split(delimiter)  # the common case, without the csv module's cost
    try:
        return next(csv.reader([line], delimiter=delimiter))
    except (csv.Error, StopIteration):
        return [line]


def _has_date(cells: list[str]) -> bool:
    return any(DATE_IN_CELL.search(c) for c in cells if c and len(c) < 64)


def _lines(head: bytes) -> tuple[list[str], list[int]]:
    """Decoded lines of the sample and the byte offset where each starts."""
    raw_lines = head.split(b"\n")
    if len(raw_lines) > 1 and not head.endswith(b"\n"):
        raw_lines = raw_lines[:-1]  # the sample cuts the last line: leave it out
    lines, offsets, offset = [], [], 0
    for raw in raw_lines[:SAMPLE_LINES]:
        offsets.append(offset)
        offset += len(raw) + 1
        lines.append(raw.decode("utf-8", errors="replace").rstrip("\r"))
    return lines, offsets


def _block(rows: list[list[str] | None], dated: list[bool]) -> tuple[int, int, int] | None:
    """(first data line index, field count, lines in the block) of the data block:
    the first line holding a date whose count is the table's, followed by lines of
    the same count. The count is the most common among lines that hold a date. A
    preamble line of that count with a date in it (`Period;01.03.2024 - 03.03.2024`)
    whose next line is not such a line does not start the block: the data's first row
    is followed by another."""
    counts = Counter(len(r) for r, has_date in zip(rows, dated) if r is not None and has_date)
    if not counts:
        return None
    width = max(counts, key=lambda n: (counts[n], n))
    matching = [i for i, (r, has_date) in enumerate(zip(rows, dated)) if has_date and r is not None and len(r) == width]
    in_block = set(matching)
    following = {i: next((j for j in range(i + 1, len(rows)) if rows[j] is not None), None) for i in matching}
    start = next((i for i in matching if following[i] in in_block), matching[0])
    return start, width, len(matching)


def detect_table(head: bytes, delimiter: str | None = None, whole: bool = True) -> TableStart:
    """Find the table in the first bytes of a plain upload.

    ``delimiter`` (the user's option) wins over detection; ``whole`` says the head is
    the whole file (else a line the head cuts may still hold data). Raises FileRejected when no
    line holds a date (not a meter export) or the header has absurdly many columns.
    """
    bom = len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0
    lines, offsets = _lines(head[bom:])
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and (match := SEP_LINE.match(lines[first])):
        delimiter = delimiter or match.group(1)
        lines[first] = ""  # an Excel hint, not part of the table
    candidates = (delimiter,) if delimiter else CANDIDATE_DELIMITERS
    # The table's shape shows in its first lines; the rest of the sample only feeds the
    # layout's look at values (split once, with the chosen delimiter).
    shape_lines = lines[:SHAPE_LINES]
    dated = [bool(line.strip()) and DATE_IN_CELL.search(line) is not None for line in shape_lines]
    best = None
    for candidate in candidates:
        if not any(candidate in line for line in shape_lines):
            continue
        rows = [_split(line, candidate) if line.strip() else None for line in shape_lines]
        found = _block(rows, dated)
        if found is None:
            continue
        start, width, size = found
        if width < 2:  # a reading needs at least a time and a value
            continue
        # The header, when there is one, belongs to the block too.
        header_at = _header_index(rows, start, width)
        score = (size + (header_at is not None), width)
        if best is None or score > best[0]:
            best = (score, candidate, rows, start, width, header_at)
    if best is None:
        return _first_line_header(lines, offsets, bom, delimiter, whole)
    _, delimiter, rows, start, width, header_at = best
    rows = rows + [_split(line, delimiter) if line.strip() else None for line in lines[SHAPE_LINES:]]
    if width > MAX_COLUMNS:
        raise FileRejected(f"the table has {width:,} columns, more than {MAX_COLUMNS:,}: this is not a meter export", "too_many_columns")
    data_rows = [r for r in rows[start:] if r is not None]
    header = [c.strip() for c in rows[header_at]] if header_at is not None else []
    trailing = False
    if header and len(header) == width - 1:
        trailing = all(r[-1].strip() == "" for r in data_rows if len(r) == width)
        header = header + [""]
    names, blank = _names(header, width, data_rows)
    table_start_line = header_at if header_at is not None else start
    preamble = sum(1 for r in rows[:table_start_line] if r is not None)
    return TableStart(
        delimiter=delimiter,
        names=names,
        header=header,
        data_offset=bom + offsets[start],
        header_row=header_at + 1 if header_at is not None else None,
        preamble_lines=preamble,
        trailing_delimiter=trailing,
        blank_columns=blank,
        sample_rows=[r for r in data_rows if len(r) == width],
    )


def _first_line_header(lines: list[str], offsets: list[int], bom: int, delimiter: str | None, whole: bool) -> TableStart:
    """No line holds a date the way meter exports write one: take the first line as the
    header and the rest as data, so the row rules say which cell cannot be read."""
    non_blank = [i for i, line in enumerate(lines) if line.strip()]
    if not non_blank:
        raise FileRejected("the file is empty: it holds no header and no rows", "empty_file")
    first = non_blank[0]
    if len(non_blank) == 1 and whole:
        raise FileRejected("the file has a header but no data rows", "header_only")
    if delimiter is None:
        counts = {d: lines[first].count(d) for d in CANDIDATE_DELIMITERS}
        delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    header = [c.strip() for c in _split(lines[first], delimiter)]
    if len(header) > MAX_COLUMNS:
        raise FileRejected(
            f"the table has {len(header):,} columns, more than {MAX_COLUMNS:,}: this is not a meter export",
            "too_many_columns",
        )
    rows = [_split(lines[i], delimiter) for i in non_blank[1:]]
    names, blank = _names(header, len(header), rows)
    data_start = first + 1
    return TableStart(
        delimiter=delimiter,
        names=names,
        header=header,
        data_offset=bom + (offsets[data_start] if data_start < len(offsets) else offsets[first] + len(lines[first].encode()) + 1),
        header_row=first + 1,
        preamble_lines=0,
        blank_columns=blank,
        sample_rows=[r for r in rows if len(r) == len(header)],
        header_guessed=True,
    )


def _header_index(rows: list[list[str] | None], start: int, width: int) -> int | None:
    """The header: the last non-blank line before the data, if it has the table's field
    count (or one less: data rows with a trailing delimiter) and holds no date."""
    previous = start - 1
    while previous >= 0 and rows[previous] is None:
        previous -= 1
    if previous < 0:
        return None
    candidate = rows[previous]
    if _has_date(candidate):
        return None
    if len(candidate) == width:
        return previous
    # One cell short: only when the data rows end with a delimiter the header lacks.
    data = [r for r in rows[start : start + 50] if r is not None and len(r) == width]
    if len(candidate) == width - 1 and data and all(not r[-1].strip() for r in data):
        return previous
    return None


def _names(header: list[str], width: int, data_rows: list[list[str]]) -> tuple[list[str], list[str]]:
    """Unique column names from the header cells, and the blank columns (no header,
    no value in the sample: spreadsheet padding)."""
    cells = header or [""] * width
    taken = Counter(c for c in cells if c)
    names, blank = [], []
    for position, cell in enumerate(cells, 1):
        if not cell:
            name = f"#{position}"
            if all(not r[position - 1].strip() for r in data_rows if len(r) >= position):
                blank.append(name)
        elif taken[cell] > 1:
            name = f"{cell}#{position}"
        else:
            name = cell
        names.append(name)
    return names, blank
