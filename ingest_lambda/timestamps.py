"""How exporters write dates and times, read into timestamps.

One concern: the layout of date, time and timestamp cells. ``detect_time_format`` looks
at a sample of a column once and names its layout (or refuses when the sample fits two
layouts that give different instants); ``parse_times`` and ``minutes_of_day`` then read
whole pyarrow string columns with that layout; ``combine`` joins a date column and a
time-of-day column. Time zones are not handled here: cells with an offset become UTC
instants, cells without one stay naive wall-clock times, and a DST label in the cell
(``A``/``B``, ``EDT``/``EST``, ``CEST``/``CET`` ...) is returned as a fold flag for the
caller's localisation.

Every bad cell becomes a row error, never an exception. The common layouts are read
with whole-column kernels (``pc.cast`` for ISO 8601, ``pc.strptime`` for the rest);
cells those kernels cannot read (``24:00``, a DST label, fractional seconds outside ISO,
an impossible date) go to one regular-expression reader that handles every layout and
runs only on those cells.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "ParsedTimes",
    "TimeFormat",
    "TimeFormatAmbiguous",
    "combine",
    "detect_time_format",
    "minutes_of_day",
    "parse_times",
]

NAIVE = pa.timestamp("ms")
AWARE = pa.timestamp("ms", "UTC")
MS_PER_MINUTE = 60_000
MS_PER_DAY = 86_400_000
MIN_YEAR, MAX_YEAR = 1900, 2200
# A sample fits a layout when this share of its non-blank cells does (the rest are row
# errors): one stray footer or typo must not stop detection.
FIT_SHARE = 0.9
KINDS = ("datetime", "date", "time", "hour_number")
DATE_ORDERS = ("dmy", "mdy", "ymd")

# DST labels written after the time: summer-time names (and "A", the first of the two
# repeated hours) are the earlier reading of an autumn wall-clock time, fold 0;
# standard-time names (and "B") the later one, fold 1.
FOLD_LABELS = {
    "A": 0,
    "B": 1,
    "EDT": 0,
    "EST": 1,
    "CDT": 0,
    "CST": 1,
    "MDT": 0,
    "MST": 1,
    "PDT": 0,
    "PST": 1,
    "AKDT": 0,
    "AKST": 1,
    "HDT": 0,
    "HST": 1,
    "CEST": 0,
    "CET": 1,
    "MESZ": 0,
    "MEZ": 1,
    "BST": 0,
    "GMT": 1,
    "EEST": 0,
    "EET": 1,
    "WEST": 0,
    "WET": 1,
}
# Longest names first so that "CEST" is not read as "C" + "EST".
_LABEL_ALTERNATION = "|".join(sorted(FOLD_LABELS, key=len, reverse=True))
# The body must end in a digit (or AM/PM) so that "1:30 AM" is not read as a label "A".
LABEL_RE = rf"^(?P<body>.*(?:\d|[AaPp]\.?[Mm]\.?))\s*(?P<label>(?i:{_LABEL_ALTERNATION}))$"
# Some exporters spell UTC out; it is an offset, not a DST label.
OFFSET_RE = r"(?P<z>Z|UTC|[+-]\d{2}(?::?\d{2})?)"
AMPM_RE = r"(?P<ap>[AaPp]\.?[Mm]\.?)"
TIME_RE = (
    r"(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?"
    rf"(?:\s*{AMPM_RE})?"
)
HOUR_NUMBER_RE = r"^[Hh]?(?P<h>\d{1,2})$"

_PY_LABEL = re.compile(LABEL_RE)
_PY_DATETIME = re.compile(
    r"^(?:(?P<y1>\d{4})(?P<s1>[-/.])(?P<a1>\d{1,2})(?P=s1)(?P<b1>\d{1,2})"
    r"|(?P<a2>\d{1,2})(?P<s2>[-/.])(?P<b2>\d{1,2})(?P=s2)(?P<y2>\d{4}|\d{2}))"
    rf"(?:(?P<sep>T|\s+){TIME_RE})?\s*{OFFSET_RE}?$"
)
_PY_TIME = re.compile(rf"^{TIME_RE}$")
_PY_HOUR = re.compile(HOUR_NUMBER_RE)


class TimeFormatAmbiguous(Exception):
    """The sample fits two readings that give different instants.

    ``message`` says what is ambiguous and names the option that settles it;
    ``option`` is that option (e.g. ``"--date-order"``)."""

    def __init__(self, message: str, option: str):
        super().__init__(message)
        self.message = message
        self.option = option


@dataclass(frozen=True)
class TimeFormat:
    """The layout of one column.

    ``kind``: "datetime" (a date, optionally a time and an offset, per cell), "date"
    (date only), "time" (time of day only) or "hour_number" (1..24, H01, 02A ...).
    ``pattern``: the strptime format applied after cleaning (labels stripped, 24:00
    and fractional seconds handled apart); None for hour numbers.
    ``day_first``: for day/month dates, True (dd/mm) or False (mm/dd); None otherwise.
    ``has_offset``: cells carry ``Z``, ``UTC`` or ``±hh:mm`` / ``±hhmm``.
    ``order``: "ymd", "dmy" or "mdy" for dates; ``two_digit_year``; ``fraction``:
    cells carry fractional seconds; ``labels``: cells carry DST labels; ``first_hour``:
    1 for hour numbers 1..24 (25), 0 for 0..23; ``user``: the pattern is the user's
    ``--timestamp-format``; ``basis``: why the order was chosen when the sample's
    values alone do not show it (else None).
    """

    kind: str
    pattern: str | None
    day_first: bool | None
    has_offset: bool
    order: str | None = None
    two_digit_year: bool = False
    fraction: bool = False
    labels: bool = False
    first_hour: int = 1
    user: bool = False
    basis: str | None = None

    def describe(self) -> str:
        """A human reading of the layout, e.g. ``dd.mm.yyyy HH:MM (day first)``."""
        if self.kind == "hour_number":
            last = 23 if self.first_hour == 0 else 24
            text = f"hour numbers {self.first_hour}..{last} (hour k starts at {'k' if self.first_hour == 0 else 'k-1'} o'clock)"
            return text + (" with DST labels" if self.labels else "")
        if self.user:
            return f"the format {self.pattern!r}"
        text = self.pattern or ""
        for directive, shown in (
            ("%Y", "yyyy"),
            ("%y", "yy"),
            ("%m", "mm"),
            ("%d", "dd"),
            ("%H", "HH"),
            ("%I", "hh"),
            ("%M", "MM"),
            ("%S", "SS"),
            ("%p", "AM/PM"),
            ("%z", "±hh:mm"),
        ):
            text = text.replace(directive, shown)
        if self.fraction:
            text = text.replace("SS", "SS.fff")
        if self.labels:
            text += " with DST labels"
        if self.day_first is not None:
            text += " (day first" if self.day_first else " (month first"
            text += f": {self.basis})" if self.basis else ")"
        return text


@dataclass
class ParsedTimes:
    """What ``parse_times`` returns, one entry per input cell.

    ``aware``: timestamp("ms", "UTC") instants for cells with an offset, else null.
    ``naive``: timestamp("ms") wall-clock for cells without an offset, else null
    (midnight for kind "date"). ``fold``: int8, 0 = the earlier of a repeated autumn
    hour (summer-time label), 1 = the later, null = no label. ``error``: string, null
    for a good cell, else why the cell cannot be read."""

    aware: pa.Array
    naive: pa.Array
    fold: pa.Array
    error: pa.Array


# ---------------------------------------------------------------------------
# Detection (on a sample of a few thousand cells: plain Python is fine here)


def _strip_label(cell: str) -> tuple[str, bool]:
    match = _PY_LABEL.match(cell)
    return (match.group("body").rstrip(), True) if match else (cell, False)


def _kinds(kind_hint: str | Iterable[str] | None) -> tuple[str, ...]:
    if kind_hint is None:
        return KINDS
    hinted = (kind_hint,) if isinstance(kind_hint, str) else tuple(kind_hint)
    unknown = [k for k in hinted if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown kind(s) {unknown}; use {KINDS}")
    return hinted


def _from_user_format(fmt: str) -> TimeFormat:
    has_date = any(d in fmt for d in ("%Y", "%y", "%d", "%m", "%b", "%B", "%j"))
    has_time = any(d in fmt for d in ("%H", "%I", "%M"))
    kind = "datetime" if has_date and has_time else "date" if has_date else "time"
    return TimeFormat(kind, fmt, None, "%z" in fmt, user=True)


def _date_only(cells: list[str]) -> bool:
    return all(m.group("H") is None for m in cells)


def _days(y: int, m: int, d: int) -> int | None:
    if not 1 <= m <= 12 or not 1 <= d <= _days_in_month(y, m):
        return None
    return int(_days_from_civil(np.array([y]), np.array([m]), np.array([d]))[0])


def _unbroken(days: set[int | None]) -> bool:
    return None not in days and max(days) - min(days) == len(days) - 1


def _decide_day_first(matches: list[re.Match], column: str) -> tuple[bool, str | None]:
    """Day/month order of year-last dates from the values: a first field above 12 is a
    day, a second field above 12 is a day. When every date fits both orders and they
    differ, readings through the day (a sub-daily series) can still decide it: their
    dates form an unbroken run of days in one order only. Otherwise refuse."""
    firsts = [int(m.group("a2")) for m in matches]
    seconds = [int(m.group("b2")) for m in matches]
    dmy = sum(1 for a, b in zip(firsts, seconds) if b <= 12 and a <= 31)
    mdy = sum(1 for a, b in zip(firsts, seconds) if a <= 12 and b <= 31)
    if dmy != mdy:
        return dmy > mdy, None
    if all(a == b for a, b in zip(firsts, seconds)):
        return True, "day and month equal in every sample date"
    times_per_date: dict[tuple, set] = {}
    for m in matches:
        times_per_date.setdefault((m.group("y2"), m.group("a2"), m.group("b2")), set()).add((m.group("H"), m.group("M"), m.group("S")))
    if any(len(t) > 1 for t in times_per_date.values()):

        def run(day_first: bool) -> bool:
            days = set()
            for y, a, b in times_per_date:
                year = _full_year(int(y))
                days.add(_days(year, int(b), int(a)) if day_first else _days(year, int(a), int(b)))
            return _unbroken(days)

        as_dmy, as_mdy = run(True), run(False)
        if as_dmy != as_mdy:
            return as_dmy, "the readings' days run on unbroken only in this order"
    example = matches[0].string
    raise TimeFormatAmbiguous(
        f"column {column!r}: every date in the sample (e.g. {example!r}) reads both as "
        "day/month and as month/day, giving different days; give --date-order dmy or "
        "--date-order mdy",
        "--date-order",
    )


def _full_year(two_or_four: int) -> int:
    # POSIX %y: 69..99 are 1900s, 00..68 the 2000s.
    if two_or_four >= 100:
        return two_or_four
    return two_or_four + (1900 if two_or_four >= 69 else 2000)


def _detect_datetime(cells: list[str], labels: bool, kinds, date_order, column) -> TimeFormat | None:
    matches = [m for m in map(_PY_DATETIME.match, cells) if m]
    if len(matches) < FIT_SHARE * len(cells):
        return None
    date_only = _date_only(matches)
    kind = "date" if date_only else "datetime"
    if kind not in kinds:
        # A column of date-only cells may still be asked for as "datetime" (midnight).
        if not (date_only and "datetime" in kinds):
            return None
    year_first = [m for m in matches if m.group("y1")]
    year_last = [m for m in matches if m.group("y2")]
    basis = None
    # A four-digit year first is unambiguous whatever --date-order says.
    if len(year_first) >= len(year_last) or date_order == "ymd":
        order, day_first = "ymd", None
        used = year_first or year_last
        sep = used[0].group("s1") or used[0].group("s2")
        two_digit = bool(year_last) and not year_first
    else:
        used = year_last
        if not used:
            return None
        sep = used[0].group("s2")
        if date_order in ("dmy", "mdy"):
            day_first = date_order == "dmy"
        else:
            day_first, basis = _decide_day_first(used, column)
        order = "dmy" if day_first else "mdy"
        two_digit = sum(len(m.group("y2")) == 2 for m in used) * 2 > len(used)
    year = "%y" if two_digit else "%Y"
    date_pattern = sep.join({"ymd": (year, "%m", "%d"), "dmy": ("%d", "%m", year), "mdy": ("%m", "%d", year)}[order])
    timed = [m for m in matches if m.group("H") is not None]
    pattern = date_pattern
    fraction = any(m.group("f") for m in timed)
    if timed:
        half = len(timed) / 2
        tee = sum(m.group("sep") == "T" for m in timed) > half
        ampm = sum(m.group("ap") is not None for m in timed) > half
        seconds = sum(m.group("S") is not None for m in timed) > half
        pattern += ("T" if tee else " ") + ("%I" if ampm else "%H") + ":%M" + (":%S" if seconds else "")
        pattern += " %p" if ampm else ""
    has_offset = sum(m.group("z") is not None for m in matches) * 2 > len(matches)
    if has_offset:
        pattern += "%z"
    return TimeFormat(
        kind,
        pattern,
        day_first,
        has_offset,
        order=order,
        two_digit_year=two_digit,
        fraction=fraction,
        labels=labels,
        basis=basis,
    )


def _detect_time(cells: list[str], labels: bool) -> TimeFormat | None:
    matches = [m for m in map(_PY_TIME.match, cells) if m]
    if not matches or len(matches) < FIT_SHARE * len(cells):
        return None
    half = len(matches) / 2
    ampm = sum(m.group("ap") is not None for m in matches) > half
    seconds = sum(m.group("S") is not None for m in matches) > half
    pattern = ("%I" if ampm else "%H") + ":%M" + (":%S" if seconds else "") + (" %p" if ampm else "")
    return TimeFormat("time", pattern, None, False, labels=labels)


def _detect_hour_number(cells: list[str], labels: bool) -> TimeFormat | None:
    hours = [int(m.group("h")) for m in map(_PY_HOUR.match, cells) if m]
    if not hours or len(hours) < FIT_SHARE * len(cells) or len(set(hours)) < 2:
        return None  # one repeated number is more likely a count or a code than an hour
    if max(hours) > 25:
        return None
    # Hours numbered from 0 run 0..23; otherwise 1..24 (25 on the autumn clock change).
    first = 0 if min(hours) == 0 and max(hours) <= 23 else 1
    return TimeFormat("hour_number", None, None, False, labels=labels, first_hour=first)


def detect_time_format(
    samples: Sequence[str | None],
    kind_hint: str | Iterable[str] | None = None,
    date_order: str | None = None,
    timestamp_format: str | None = None,
    column: str = "timestamp",
) -> TimeFormat | None:
    """The layout of a column from its sample cells.

    ``samples``: cells as text (None and blanks are skipped). ``kind_hint``: one kind or
    several ("datetime", "date", "time", "hour_number") to restrict what is tried; by
    default all, in that order. ``date_order`` ("dmy", "mdy", "ymd") and
    ``timestamp_format`` (a strptime format) are the user's options and win over what
    the sample shows. ``column`` names the column in messages.

    Returns None when the cells are not dates or times at all (callers use this to find
    which column holds what). Raises TimeFormatAmbiguous (``option`` "--date-order")
    when every sample date fits both day/month and month/day and the two differ;
    ValueError for an unknown kind or date order.
    """
    if date_order is not None and date_order not in DATE_ORDERS:
        raise ValueError(f"unknown date order {date_order!r}; use one of {DATE_ORDERS}")
    kinds = _kinds(kind_hint)
    if timestamp_format:
        return _from_user_format(timestamp_format)
    raw = [c.strip() for c in samples if c is not None and c.strip()]
    if not raw:
        return None
    stripped = [_strip_label(c) for c in raw]
    cells = [c for c, _ in stripped]
    labels = any(flag for _, flag in stripped)
    if "datetime" in kinds or "date" in kinds:
        found = _detect_datetime(cells, labels, kinds, date_order, column)
        if found:
            return found
    if "time" in kinds:
        found = _detect_time(cells, labels)
        if found:
            return found
    if "hour_number" in kinds:
        return _detect_hour_number(cells, labels)
    return None


# ---------------------------------------------------------------------------
# Parsing whole columns


def _days_in_month(year, month):
    year = np.asarray(year)
    month = np.asarray(month)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    lengths = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0])
    return lengths[np.clip(month, 0, 13)] + ((month == 2) & leap)


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * (m + np.where(m > 2, -3, 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _blank_to_null(arr: pa.Array) -> pa.Array:
    # ASCII trimming: exports pad with spaces, and it is ten times faster than UTF-8's.
    stripped = pc.ascii_trim_whitespace(arr)
    return pc.if_else(pc.equal(stripped, ""), pa.scalar(None, pa.string()), stripped)


def _as_string(raw) -> pa.Array:
    if isinstance(raw, pa.ChunkedArray):
        raw = raw.combine_chunks()
    if pa.types.is_large_string(raw.type) or pa.types.is_string_view(raw.type):
        raw = raw.cast(pa.string())
    return raw


def _strip_labels(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(text without DST labels, int8 fold per cell or null)."""
    last = pc.utf8_slice_codeunits(text, -1)
    # Only cells ending in a letter can carry a label; AM/PM end in M, UTC offsets in Z.
    maybe = pc.and_(pc.utf8_is_alpha(last), pc.invert(pc.is_in(pc.utf8_upper(last), pa.array(["M", "Z"]))))
    maybe = pc.fill_null(maybe, False)
    fold = pa.nulls(len(text), pa.int8())
    if not pc.any(maybe).as_py():
        return text, fold
    at = pc.indices_nonzero(maybe)
    parts = pc.extract_regex(pc.take(text, at), LABEL_RE)
    labelled = parts.is_valid()
    bodies = pc.if_else(labelled, parts.field("body"), pc.take(text, at))
    names = pc.utf8_upper(parts.field("label"))
    codes = pa.array(list(FOLD_LABELS), pa.string())
    folds = pc.take(pa.array(list(FOLD_LABELS.values()), pa.int8()), pc.index_in(names, codes))
    return _scatter(text, at, pc.utf8_rtrim_whitespace(bodies)), _scatter(fold, at, folds)


def _scatter(base: pa.Array, at: pa.Array, values: pa.Array) -> pa.Array:
    """``base`` with ``values`` put at positions ``at``."""
    if len(at) == 0:
        return base
    if len(at) == len(base):
        return values.cast(base.type)
    mask = np.zeros(len(base), dtype=bool)
    mask[at.to_numpy()] = True
    # replace_with_mask takes the replacements in order of the mask's true positions:
    # ``at`` is ascending wherever it comes from here.
    return pc.replace_with_mask(base, pa.array(mask), values.cast(base.type))


def _field(parts: pa.StructArray, name: str, default: int) -> np.ndarray:
    values = parts.field(name)
    values = pc.if_else(pc.equal(values, ""), pa.scalar(str(default)), values)
    return pc.cast(pc.fill_null(values, str(default)), pa.int64()).to_numpy(zero_copy_only=False)


def _engine_regex(fmt: TimeFormat) -> str:
    year = r"(?P<y>\d{2})" if fmt.two_digit_year else r"(?P<y>\d{4,6})"
    sep = r"[-/.]"
    date = {
        "ymd": rf"{year}{sep}(?P<mo>\d{{1,2}}){sep}(?P<d>\d{{1,2}})",
        "dmy": rf"(?P<d>\d{{1,2}}){sep}(?P<mo>\d{{1,2}}){sep}{year}",
        "mdy": rf"(?P<mo>\d{{1,2}}){sep}(?P<d>\d{{1,2}}){sep}{year}",
    }[fmt.order or "ymd"]
    return rf"^{date}(?:(?:T|\s+){TIME_RE})?\s*{OFFSET_RE}?$"


# Row status codes of the readers.
OK, UNREADABLE, OUT_OF_RANGE = 0, 1, 2


def _read_general(text: pa.Array, fmt: TimeFormat) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The reader for every layout, cell by regular expression (slower than the kernels;
    used on the cells they cannot read). Returns (epoch ms int64: wall-clock for naive
    cells, UTC for cells with an offset; has-offset bool; status int8)."""
    parts = pc.extract_regex(text, _engine_regex(fmt))
    matched = parts.is_valid().to_numpy(zero_copy_only=False)
    y = _field(parts, "y", 1970)
    if fmt.two_digit_year:
        y = np.where(y >= 69, y + 1900, y + 2000)
    mo, d = _field(parts, "mo", 1), _field(parts, "d", 1)
    hh, mm, ss = _field(parts, "H", 0), _field(parts, "M", 0), _field(parts, "S", 0)
    frac = parts.field("f")
    frac = pc.utf8_rpad(pc.utf8_slice_codeunits(pc.fill_null(frac, ""), 0, 3), 3, "0")
    ms = pc.cast(frac, pa.int64()).to_numpy(zero_copy_only=False)
    ampm = pc.utf8_upper(pc.fill_null(parts.field("ap"), "")).to_numpy(zero_copy_only=False).astype(str)
    has_ampm = ampm != ""
    pm = np.char.startswith(ampm, "P")
    ok = matched & (~has_ampm | ((hh >= 1) & (hh <= 12)))
    hh = np.where(has_ampm, hh % 12 + np.where(pm, 12, 0), hh)
    in_range = (y >= MIN_YEAR) & (y <= MAX_YEAR)
    ok &= (mo >= 1) & (mo <= 12) & (d >= 1) & (d <= _days_in_month(y, mo))
    end_of_day = (hh == 24) & (mm == 0) & (ss == 0) & (ms == 0) & ~has_ampm
    ok &= ((hh <= 23) | end_of_day) & (mm <= 59) & (ss <= 59)
    zone = pc.fill_null(parts.field("z"), "")
    aware = pc.not_equal(zone, "").to_numpy(zero_copy_only=False)
    sign = np.where(pc.starts_with(zone, "-").to_numpy(zero_copy_only=False), -1, 1)
    # "+01:00", "+0100" and "+01" alike: hhmm digits, padded; "Z" and "UTC" are zero.
    digits = pc.replace_substring_regex(zone, r"^(Z|UTC)$|[+:-]", "")
    digits = pc.utf8_rpad(digits, 4, "0")
    off_hours = pc.cast(pc.utf8_slice_codeunits(digits, 0, 2), pa.int64()).to_numpy(zero_copy_only=False)
    off_minutes = pc.cast(pc.utf8_slice_codeunits(digits, 2, 4), pa.int64()).to_numpy(zero_copy_only=False)
    ok &= ~aware | ((off_hours <= 18) & (off_minutes <= 59))
    days = _days_from_civil(np.where(ok, y, 1970), np.where(ok, mo, 1), np.where(ok, d, 1))
    epoch = days * MS_PER_DAY + hh * 3_600_000 + mm * MS_PER_MINUTE + ss * 1000 + ms
    epoch -= sign * (off_hours * 60 + off_minutes) * MS_PER_MINUTE
    status = np.where(ok, np.where(in_range, OK, OUT_OF_RANGE), UNREADABLE).astype(np.int8)
    # A readable layout with an impossible year is out of range, not unreadable.
    status = np.where(matched & ~in_range, OUT_OF_RANGE, status).astype(np.int8)
    return np.where(ok, epoch, 0).astype(np.int64), aware, status


def _day_overflow_suspects(text: pa.Array, result: pa.Array, fmt: TimeFormat) -> pa.Array:
    """strptime takes 31 April as 1 May: such cells read as day 1..3 and have 29..31 in
    their day field. Returns a bool mask of cells to re-read."""
    low_day = pc.fill_null(pc.less_equal(pc.day(result), 3), False)
    if not pc.any(low_day).as_py():
        return low_day
    day_field = {
        "dmy": r"^(29|30|31)\D",
        "mdy": r"^\d{1,2}\D(29|30|31)(\D|$)",
        "ymd": r"^\d{2,4}\D\d{1,2}\D(29|30|31)(\D|$)",
    }[fmt.order or "ymd"]
    return pc.and_(low_day, pc.fill_null(pc.match_substring_regex(text, day_field), False))


def _read_fast(text: pa.Array, fmt: TimeFormat) -> pa.Array | None:
    """Whole-column kernels; null for the cells they cannot read. None when the layout
    has no kernel."""
    if fmt.order == "ymd" and (fmt.pattern or "").startswith("%Y-%m-%d") and not fmt.user:
        # ISO 8601: the cast reads T or space, any fraction (to ns, in range for
        # 1900..2200) and offsets, and checks calendar dates; one bad cell makes it
        # raise, so it is tried on slices and a failing slice goes to strptime.
        target = pa.timestamp("ns", "UTC") if fmt.has_offset else pa.timestamp("ns")
        out = []
        step = 1 << 13
        for start in range(0, len(text), step):
            piece = text.slice(start, step)
            try:
                fine = pc.cast(piece, target)
                if pc.less(pc.min(fine), pa.scalar(0, target)).as_py():
                    # Casting truncates toward zero: before 1970 that would round up.
                    fine = pc.floor_temporal(fine, unit="millisecond")
                out.append(pc.cast(fine, pa.timestamp("ms", target.tz), safe=False))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                out.append(_strptime_checked(piece, fmt))
        return pa.concat_arrays(out) if out else pa.nulls(0, pa.timestamp("ms", target.tz))
    return _strptime_checked(text, fmt)


def _strptime_checked(text: pa.Array, fmt: TimeFormat) -> pa.Array:
    pattern = fmt.pattern
    parsed = pc.strptime(text, format=pattern, unit="ms", error_is_null=True)
    if fmt.kind in ("datetime", "date") and not fmt.user:
        suspects = _day_overflow_suspects(text, parsed, fmt)
        bad = suspects
        if "%S" in pattern:
            # strptime takes second 60 as the next minute.
            bad = pc.or_(bad, pc.fill_null(pc.match_substring_regex(text, r":6\d"), False))
        if "%z" in pattern:
            bad = pc.or_(bad, pc.fill_null(pc.match_substring_regex(text, r"[+-](1[89]|[2-9]\d):?\d\d$"), False))
        if pc.any(bad).as_py():
            parsed = pc.if_else(bad, pa.scalar(None, parsed.type), parsed)
    return parsed


def _user_checked(text: pa.Array, parsed: pa.Array, fmt: TimeFormat) -> pa.Array:
    """The user's format: strptime rolls 31 April over to 1 May; Python's strptime
    refuses it, so the few cells that could have rolled over are checked with it."""
    import datetime as dt

    low = pc.fill_null(pc.less_equal(pc.day(parsed), 3), False)
    if not pc.any(low).as_py():
        return parsed
    at = pc.indices_nonzero(low)
    bad = []
    for position, cell in zip(at.to_pylist(), pc.take(text, at).to_pylist()):
        try:
            dt.datetime.strptime(cell, fmt.pattern)
        except ValueError:
            bad.append(position)
    if not bad:
        return parsed
    mask = np.zeros(len(parsed), dtype=bool)
    mask[bad] = True
    return pc.if_else(pa.array(mask), pa.scalar(None, parsed.type), parsed)


def _quoted(arr: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise("'", pc.utf8_slice_codeunits(arr, 0, 40), "'", "")


def _errors(text: pa.Array, status: np.ndarray, expected: str, noun: str = "timestamp") -> pa.Array:
    """The row error per status: null, missing, unreadable or out of range."""
    out = np.full(len(text), None, dtype=object)
    missing = pc.is_null(text).to_numpy(zero_copy_only=False)
    out[missing] = f"missing {noun}"
    for code, tail in (
        (UNREADABLE, f" cannot be read (expected {expected})"),
        (OUT_OF_RANGE, f" is out of range (years {MIN_YEAR}..{MAX_YEAR})"),
    ):
        where = np.flatnonzero((status == code) & ~missing)
        if where.size:
            quoted = _quoted(pc.take(text, pa.array(where))).to_numpy(zero_copy_only=False)
            out[where] = [f"{noun} {q}{tail}" for q in quoted]
    if not missing.any() and not (status != OK).any():
        return pa.nulls(len(text), pa.string())
    return pa.array(out, pa.string())


def _year_bounds_ms() -> tuple[int, int]:
    low = int(_days_from_civil(np.array([MIN_YEAR]), np.array([1]), np.array([1]))[0]) * MS_PER_DAY
    high = int(_days_from_civil(np.array([MAX_YEAR + 1]), np.array([1]), np.array([1]))[0]) * MS_PER_DAY
    return low, high


def parse_times(raw: pa.Array, fmt: TimeFormat) -> ParsedTimes:
    """Read a whole string column of kind "datetime" or "date" with ``fmt``.

    ``raw``: string array (or chunked array) of cells, as exported. Returns a
    ParsedTimes of arrays as long as ``raw``; bad cells are row errors ("missing
    timestamp", "timestamp '…' cannot be read (expected <describe()>)", "timestamp '…'
    is out of range (years 1900..2200)"), never exceptions. Offsets are used as given;
    ``24:00`` is the next day's midnight; fractions keep milliseconds (finer digits are
    dropped). Raises ValueError only for a ``fmt`` of another kind.
    """
    if fmt.kind not in ("datetime", "date"):
        raise ValueError(f"parse_times reads dates and timestamps, not {fmt.kind!r}; use minutes_of_day")
    text = _blank_to_null(_as_string(raw))
    n = len(text)
    if fmt.labels:
        body, fold = _strip_labels(text)
    else:
        body, fold = text, pa.nulls(n, pa.int8())
    fast = _read_fast(body, fmt)
    if fmt.user:
        fast = _user_checked(body, fast, fmt)
    epoch = pc.fill_null(pc.cast(fast, pa.int64()), 0).to_numpy(zero_copy_only=False).copy()
    status = np.where(pc.is_valid(fast).to_numpy(zero_copy_only=False), OK, UNREADABLE).astype(np.int8)
    aware = np.full(n, bool(fmt.has_offset))
    retry = np.flatnonzero((status != OK) & pc.is_valid(body).to_numpy(zero_copy_only=False))
    if retry.size and not fmt.user:
        subset = pc.take(body, pa.array(retry))
        if not fmt.labels:  # a label the sample did not show
            subset, subset_fold = _strip_labels(subset)
            fold = _scatter(fold, pa.array(retry), subset_fold)
        r_epoch, r_aware, r_status = _read_general(subset, fmt)
        epoch[retry], aware[retry], status[retry] = r_epoch, r_aware, r_status
    low, high = _year_bounds_ms()
    good = status == OK
    if good.any() and (epoch[good].min() < low or epoch[good].max() >= high):
        # Offsets can carry an in-range wall clock just past the bounds; judge the year
        # as written only where the instant itself is out of range.
        status = np.where(good & ((epoch < low) | (epoch >= high)), OUT_OF_RANGE, status).astype(np.int8)
        good = status == OK
    error = _errors(text, status, fmt.describe())
    values = pa.array(epoch, pa.int64(), mask=~good)
    aware_mask = pa.array(good & aware)
    naive_mask = pa.array(good & ~aware)
    none = pa.scalar(None, pa.int64())
    return ParsedTimes(
        aware=pc.if_else(aware_mask, values, none).cast(AWARE),
        naive=pc.if_else(naive_mask, values, none).cast(NAIVE),
        fold=fold,
        error=error,
    )


def _read_time_general(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(minutes after midnight int64, status) for time-of-day cells by regex."""
    parts = pc.extract_regex(text, rf"^{TIME_RE}$")
    matched = parts.is_valid().to_numpy(zero_copy_only=False)
    hh, mm, ss = _field(parts, "H", 0), _field(parts, "M", 0), _field(parts, "S", 0)
    frac = pc.fill_null(parts.field("f"), "").to_numpy(zero_copy_only=False).astype(str)
    whole = np.char.strip(frac, "0") == ""
    ampm = pc.utf8_upper(pc.fill_null(parts.field("ap"), "")).to_numpy(zero_copy_only=False).astype(str)
    has_ampm = ampm != ""
    ok = matched & (~has_ampm | ((hh >= 1) & (hh <= 12)))
    hh = np.where(has_ampm, hh % 12 + np.where(np.char.startswith(ampm, "P"), 12, 0), hh)
    end_of_day = (hh == 24) & (mm == 0) & (ss == 0) & ~has_ampm
    # Minutes are what the caller's grid holds; a time between minutes cannot be placed.
    ok &= ((hh <= 23) | end_of_day) & (mm <= 59) & (ss == 0) & whole
    return np.where(ok, hh * 60 + mm, 0), np.where(ok, OK, UNREADABLE).astype(np.int8)


def minutes_of_day(raw: pa.Array, fmt: TimeFormat) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Read a whole column of kind "time" or "hour_number".

    Times (``00:15``, ``0:15``, ``00:15:00``, ``24:00``, ``1:00 PM``) give the minutes
    after midnight (``24:00`` → 1440; seconds must be zero). Hour numbers (``1``..``24``,
    ``25`` on an autumn clock-change day, ``H01``, ``02A``/``02B``) give the START of the
    hour: hour k → (k-1)*60 when numbered from 1, k*60 when numbered from 0.

    Returns (int32 minutes, int8 fold from DST labels or null, string row error or null).
    Raises ValueError only for a ``fmt`` of another kind.
    """
    if fmt.kind not in ("time", "hour_number"):
        raise ValueError(f"minutes_of_day reads times and hour numbers, not {fmt.kind!r}; use parse_times")
    text = _blank_to_null(_as_string(raw))
    body, fold = _strip_labels(text)
    valid_body = pc.is_valid(body).to_numpy(zero_copy_only=False)
    if fmt.kind == "hour_number":
        digits = pc.if_else(pc.starts_with(pc.utf8_upper(body), "H"), pc.utf8_slice_codeunits(body, 1), body)
        numeric = pc.match_substring_regex(digits, r"^\d{1,2}$")
        numeric = pc.fill_null(numeric, False)
        hours = pc.cast(pc.if_else(numeric, digits, pa.scalar(None, pa.string())), pa.int64())
        hours_np = pc.fill_null(hours, -1).to_numpy(zero_copy_only=False)
        first = fmt.first_hour
        last = 23 if first == 0 else 25
        ok = (hours_np >= first) & (hours_np <= last)
        minutes = np.where(ok, (hours_np - first) * 60, 0)
        status = np.where(ok, OK, UNREADABLE).astype(np.int8)
        expected = fmt.describe()
        noun = "hour"
    else:
        parsed = pc.strptime(body, format=fmt.pattern, unit="ms", error_is_null=True)
        if "%S" in fmt.pattern:
            parsed = pc.if_else(pc.fill_null(pc.match_substring_regex(body, r":6\d"), False), pa.scalar(None, parsed.type), parsed)
        base = -2_208_988_800_000  # strptime's 1900-01-01 00:00
        ms = pc.fill_null(pc.cast(parsed, pa.int64()), base).to_numpy(zero_copy_only=False)
        got = pc.is_valid(parsed).to_numpy(zero_copy_only=False)
        offset_ms = ms - base
        # A time with seconds is read only when they are zero.
        got &= offset_ms % MS_PER_MINUTE == 0
        minutes = np.where(got, offset_ms // MS_PER_MINUTE, 0)
        status = np.where(got, OK, UNREADABLE).astype(np.int8)
        retry = np.flatnonzero(~got & valid_body)
        if retry.size:
            r_minutes, r_status = _read_time_general(pc.take(body, pa.array(retry)))
            minutes[retry], status[retry] = r_minutes, r_status
        expected = fmt.describe() + " (24:00 for the end of the day)"
        noun = "time"
    good = status == OK
    error = _errors(text, status, expected, noun)
    return pa.array(minutes.astype(np.int32), pa.int32(), mask=~good), fold, error


def combine(dates: pa.Array, minutes: pa.Array) -> pa.Array:
    """Dates plus minutes after midnight into naive wall-clock timestamps.

    ``dates``: date32, or naive timestamps at midnight (e.g. ``parse_times(...).naive``
    of kind "date"); ``minutes``: integers, 1440 = the next midnight. Returns
    timestamp("ms"), null where either input is null."""
    if isinstance(dates, pa.ChunkedArray):
        dates = dates.combine_chunks()
    if isinstance(minutes, pa.ChunkedArray):
        minutes = minutes.combine_chunks()
    if pa.types.is_date(dates.type):
        dates = pc.cast(dates, NAIVE)
    base = pc.cast(pc.cast(dates, NAIVE), pa.int64())
    total = pc.add(base, pc.multiply(pc.cast(minutes, pa.int64()), MS_PER_MINUTE))
    return pc.cast(total, NAIVE)
