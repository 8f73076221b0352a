"""Numbers as meter-data exporters write them.

Exports put the same reading down as ``1032``, ``1.032`` (German thousands dot),
``"1,032"`` (English thousands comma), ``1 032,0`` or ``1'032.0``. Which character is the
decimal mark and which one groups thousands is found from the values of the column
itself (never from the CSV delimiter): :func:`detect_number_format` looks at a sample
of cells, :func:`parse_numbers` then reads the whole column in that format with
vectorised pyarrow compute kernels.

Texts such as ``NaN``, ``-`` or an empty cell mean "no reading" (:data:`PLACEHOLDERS`):
they are missing readings, not errors.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DECIMAL_MARKS = (".", ",")
GROUPINGS = (None, ",", ".", " ", "\u00a0", "\u202f", "'")
DECIMAL_MARK_OPTION = "--decimal-mark"

_GROUPING_NAMES = {
    ",": "',' thousands grouping",
    ".": "'.' thousands grouping",
    " ": "space thousands grouping",
    "\u00a0": "no-break space (U+00A0) thousands grouping",
    "\u202f": "narrow no-break space (U+202F) thousands grouping",
    "'": "apostrophe thousands grouping",
}

# Texts that stand for "no reading". Compared case-insensitively after trimming.
PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "",
        "NaN",
        "nan",
        "-",
        "--",
        "---",
        "null",
        "NULL",
        "n/a",
        "N/A",
        "NA",
        "n.a.",
        "#N/A",
        "None",
        "nil",
        "missing",
        "?",
    }
)
_PLACEHOLDERS_LOWER = frozenset(p.lower() for p in PLACEHOLDERS)
_PLACEHOLDER_SET = pa.array(sorted(_PLACEHOLDERS_LOWER), pa.string())

_DIGITS = "[0-9]"  # RE2's \d is ASCII, Python's is not: spell it out so both agree
_EXPONENT = "(?:[eE][+-]?[0-9]+)?"
_INTEGER_ONLY = re.compile(r"[+-]?[0-9]+")


class NumberFormatAmbiguous(Exception):
    """The sample fits two number formats that give different values.

    ``message`` quotes one cell that reads differently and the column header, and
    names ``option`` (``--decimal-mark``), which settles it.
    """

    def __init__(self, message: str, option: str = DECIMAL_MARK_OPTION):
        super().__init__(message)
        self.message = message
        self.option = option


@dataclass(frozen=True)
class NumberFormat:
    """How a column writes its numbers.

    ``decimal`` is ``"."`` or ``","``; ``grouping`` is the thousands separator
    (``None``, ``","``, ``"."``, ``" "``, ``"\\u00a0"``, ``"\\u202f"`` or ``"'"``),
    never the decimal mark. Raises ValueError for any other combination.
    """

    decimal: str
    grouping: str | None = None

    def __post_init__(self) -> None:
        if self.decimal not in DECIMAL_MARKS:
            raise ValueError(f"decimal mark must be '.' or ',', not {self.decimal!r}")
        if self.grouping not in GROUPINGS:
            raise ValueError(f"unknown thousands grouping {self.grouping!r}")
        if self.grouping == self.decimal:
            raise ValueError(f"{self.decimal!r} cannot be both the decimal mark and the thousands grouping")

    def describe(self) -> str:
        """Human wording, e.g. ``"decimal comma, '.' thousands grouping"``."""
        mark = "decimal point" if self.decimal == "." else "decimal comma"
        grouping = _GROUPING_NAMES[self.grouping] if self.grouping else "no thousands grouping"
        return f"{mark}, {grouping}"

    @property
    def pattern(self) -> str:
        """The regular expression (RE2 and Python ``re`` alike) a trimmed cell of this
        format matches: optional sign; digits, or digits grouped in threes after a first
        group of 1-3 digits not starting with 0; an optional decimal part; an exponent
        only when the integer part is not grouped."""
        d = re.escape(self.decimal)
        plain = f"{_DIGITS}+(?:{d}{_DIGITS}*)?{_EXPONENT}|{d}{_DIGITS}+{_EXPONENT}"
        if self.grouping is None:
            body = plain
        else:
            g = re.escape(self.grouping)
            # A leading group of 0 ("0.450") is never grouping: nobody writes 450 so.
            body = f"{plain}|[1-9]{_DIGITS}{{0,2}}(?:{g}{_DIGITS}{{3}})+(?:{d}{_DIGITS}*)?"
        return f"^[+-]?(?:{body})$"

    def to_float(self, text: str) -> float:
        """One trimmed cell that matches :attr:`pattern` as a float."""
        if self.grouping:
            text = text.replace(self.grouping, "")
        if self.decimal != ".":
            text = text.replace(self.decimal, ".")
        return float(text)


_CANDIDATES = tuple(NumberFormat(d, g) for d in DECIMAL_MARKS for g in GROUPINGS if g != d)
_COMPILED = {f: re.compile(f.pattern) for f in _CANDIDATES}


def _is_placeholder(text: str) -> bool:
    return text.lower() in _PLACEHOLDERS_LOWER


def _quote(text: str) -> str:
    return f"'{text[:40]}'"


def _show(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def detect_number_format(samples: Sequence[str | None], decimal_mark: str | None = None, column: str = "value") -> NumberFormat:
    """The number format of one column, from a sample of its cell texts.

    ``samples``: up to a few thousand cells in any order; ``None``, placeholders and
    texts that are a number in no format are ignored (they become missing readings or
    per-row errors when parsed). ``decimal_mark`` (``"."`` or ``","``) is the user's
    option and restricts the choice to that mark. ``column`` is the header, for messages.

    Each candidate format counts the cells it reads. Per decimal mark the format reading
    the most cells wins (no grouping on a tie: a grouping nothing in the sample uses is
    not assumed). Between the two decimal marks, the one reading more cells wins; on a
    tie the sample decides nothing, and unless the two read every cell alike (a column
    of whole numbers: decimal point, no grouping) NumberFormatAmbiguous is raised.

    Raises ValueError for a ``decimal_mark`` other than ``"."``, ``","`` or None.
    """
    if decimal_mark is not None and decimal_mark not in DECIMAL_MARKS:
        raise ValueError(f"decimal mark must be '.' or ',', not {decimal_mark!r}")
    counts: Counter[str] = Counter()
    for cell in samples:
        if cell is None:
            continue
        text = cell.strip()
        if not _is_placeholder(text):
            counts[text] += 1

    whole = sum(n for text, n in counts.items() if _INTEGER_ONLY.fullmatch(text))
    fits: dict[NumberFormat, list[str]] = {f: [] for f in _CANDIDATES}
    support = {f: whole for f in _CANDIDATES}
    for text, n in counts.items():
        if _INTEGER_ONLY.fullmatch(text):
            continue  # a whole number reads alike in every format and decides nothing
        for f in _CANDIDATES:
            if _COMPILED[f].match(text):
                fits[f].append(text)
                support[f] += n

    def best(decimal: str) -> NumberFormat:
        # _CANDIDATES lists no grouping first, so max() keeps it on a tie.
        return max((f for f in _CANDIDATES if f.decimal == decimal), key=support.__getitem__)

    if decimal_mark is not None:
        return best(decimal_mark)
    point, comma = best("."), best(",")
    if support[point] != support[comma]:
        return point if support[point] > support[comma] else comma

    both = set(fits[point]) & set(fits[comma])
    for text in counts:  # sample order, so the message quotes the first such cell
        if text in both and point.to_float(text) != comma.to_float(text):
            as_point, as_comma = point.to_float(text), comma.to_float(text)
            # Only one of '.' and ',' can be in such a cell: a decimal mark in one
            # reading, the grouping in the other.
            if "." in text:
                first, second, words = as_point, as_comma, "decimal point or thousands grouping"
            else:
                first, second, words = as_comma, as_point, "decimal comma or thousands grouping"
            raise NumberFormatAmbiguous(
                f"column '{column}': {_quote(text)} could be {_show(first)} or {_show(second)} "
                f"({words}), and no value in the file decides; "
                f"give {DECIMAL_MARK_OPTION} . or {DECIMAL_MARK_OPTION} ,"
            )
    only_point = [t for t in fits[point] if t not in both]
    only_comma = [t for t in fits[comma] if t not in both]
    if only_point and only_comma:
        raise NumberFormatAmbiguous(
            f"column '{column}': {_quote(only_point[0])} is a number only with a decimal point and "
            f"{_quote(only_comma[0])} only with a decimal comma, and as many values fit one as the other; "
            f"give {DECIMAL_MARK_OPTION} . or {DECIMAL_MARK_OPTION} ,"
        )
    return point


def _scatter(mask: pa.Array, subset: pa.Array, fill: pa.Scalar) -> pa.Array:
    """An array of ``len(mask)`` holding ``subset`` (one value per True of ``mask``, in
    order) where ``mask`` holds and ``fill`` elsewhere."""
    return pc.replace_with_mask(pa.repeat(fill, len(mask)), mask, subset)


def _with_validity(text: pa.Array, keep: pa.Array) -> pa.Array:
    """``text`` with the cells where ``keep`` is False made null, sharing its offsets
    and characters (no copy of the strings, unlike if_else or filter)."""
    keep = pc.and_(keep, pc.is_valid(text)) if text.null_count else keep
    if text.offset or keep.offset:  # bitmaps not aligned at bit 0: take the copying way
        return pc.if_else(keep, text, pa.scalar(None, pa.string()))
    return pa.Array.from_buffers(pa.string(), len(text), [keep.buffers()[1], *text.buffers()[1:]])


def _classify_rejects(text: pa.Array, reject: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(is_placeholder, error) for a column whose cells are fine except where ``reject``
    holds; only the rejected cells are inspected, as they are usually few."""
    n = len(text)
    if not pc.any(reject).as_py():
        return pc.is_null(text), pa.nulls(n, pa.string())
    cells = pc.utf8_trim_whitespace(pc.filter(text, reject))
    placeholder_here = pc.or_(pc.is_null(cells), pc.is_in(pc.utf8_lower(cells), value_set=_PLACEHOLDER_SET))
    is_placeholder = _scatter(reject, placeholder_here, pa.scalar(False))
    is_placeholder = pc.or_(is_placeholder, pc.is_null(text))
    bad_cells = pc.filter(cells, pc.invert(placeholder_here))
    if len(bad_cells) == 0:
        return is_placeholder, pa.nulls(n, pa.string())
    messages = pc.binary_join_element_wise("value '", pc.utf8_slice_codeunits(bad_cells, 0, 40), "' is not a number", "")
    bad = pc.and_(reject, pc.invert(is_placeholder))
    return is_placeholder, _scatter(bad, messages, pa.scalar(None, pa.string()))


def _comma_to_point(text: pa.Array) -> pa.Array:
    """Every ',' of ``text`` made '.': a same-length byte swap on the character buffer
    (a ',' byte is never part of a longer UTF-8 character), several times cheaper than
    replace_substring, which rebuilds every string."""
    validity, offsets, data = text.buffers()
    if data is None or data.size == 0:
        return text
    chars = np.frombuffer(data, dtype=np.uint8).copy()
    chars[chars == ord(",")] = ord(".")
    return pa.Array.from_buffers(
        pa.string(), len(text), [validity, offsets, pa.py_buffer(chars)], null_count=text.null_count, offset=text.offset
    )


# The cast is tried on this many leading cells first: a failed cast of a whole column
# costs several times a successful one (Arrow builds an error for every bad cell).
_PROBE_CELLS = 4096


def _plain_cast(raw: pa.Array) -> pa.Array | None:
    """``raw`` cast to float64, or None when some cell is not a plain number."""
    try:
        if len(raw) > _PROBE_CELLS:
            pc.cast(raw.slice(0, _PROBE_CELLS), pa.float64())
        return pc.cast(raw, pa.float64())
    except pa.ArrowInvalid:
        return None


def parse_numbers(raw: pa.Array, fmt: NumberFormat) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Read a text column in ``fmt``.

    ``raw``: pa.string (or large_string; a ChunkedArray is combined) of n cells.
    Returns three arrays of length n:

    - float64 values: the number, or null for placeholders and errors;
    - bool is_placeholder: True for a null cell or a :data:`PLACEHOLDERS` text
      (a missing reading, with a null error);
    - string error: ``value '<cell, first 40 chars>' is not a number`` for a cell that
      is not a finite number in ``fmt`` (a word, a unit glued to the value, a grouping
      that does not fit, ``inf``, an overflowing exponent), else null.

    Surrounding whitespace is ignored. No Python work per cell.
    """
    if isinstance(raw, pa.ChunkedArray):
        raw = raw.combine_chunks()
    if not pa.types.is_string(raw.type):
        raw = pc.cast(raw, pa.string())
    null_float = pa.scalar(None, pa.float64())

    if fmt.decimal == ".":
        # The common case: every cell a plain number. With a decimal point the cast
        # reads a cell as this format does (a grouping character makes it fail), but
        # it also accepts "nan" and "inf": those cells are placeholders or errors.
        values = _plain_cast(raw)
        if values is not None:
            odd = pc.fill_null(pc.invert(pc.is_finite(values)), False)
            if not pc.any(odd).as_py():
                return values, pc.is_null(raw), pa.nulls(len(raw), pa.string())
            is_placeholder, error = _classify_rejects(raw, odd)
            return pc.if_else(odd, null_float, values), is_placeholder, error

    text = pc.utf8_trim_whitespace(raw)
    ok = pc.fill_null(pc.match_substring_regex(text, fmt.pattern), False)
    clean = text if pc.all(ok).as_py() else _with_validity(text, ok)
    if fmt.grouping is not None:
        clean = pc.replace_substring(clean, fmt.grouping, "")
    if fmt.decimal != ".":
        clean = _comma_to_point(clean)
    values = pc.cast(clean, pa.float64())
    # "1e999" fits the pattern but casts to inf: not a reading either.
    inf = pc.fill_null(pc.is_inf(values), False)
    if pc.any(inf).as_py():
        values = pc.if_else(inf, null_float, values)
        ok = pc.and_(ok, pc.invert(inf))
    is_placeholder, error = _classify_rejects(text, pc.invert(ok))
    return values, is_placeholder, error
