"""Numbers as exporters write them: detecting the decimal mark and thousands grouping
of a column, and reading its cells (ingest_lambda.numbers)."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest_lambda.numbers import (
    PLACEHOLDERS,
    NumberFormat,
    NumberFormatAmbiguous,
    detect_number_format,
    parse_numbers,
)

FIELD = Path(__file__).with_name("field")


def read_rows(path: Path, delimiter: str) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        header, *rows = list(csv.reader(f, delimiter=delimiter))
    return header, rows


def read_column(cells: list[str | None], fmt: NumberFormat) -> tuple[list, list, list]:
    values, placeholder, error = parse_numbers(pa.array(cells, pa.string()), fmt)
    return values.to_pylist(), placeholder.to_pylist(), error.to_pylist()


def daily(days: list[str], values: list[float | None]) -> dict[str, tuple[float, int]]:
    sums: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for day, value in zip(days, values):
        if value is not None:
            sums[day] += value
            counts[day] += 1
    return {day: (round(sums[day], 6), counts[day]) for day in sums}


# --- field files --------------------------------------------------------------------

THOUSANDS_DAYS = {
    "2024-02-05": (79.5663, 94),
    "2024-02-06": (79.6287, 94),
    "2024-02-07": (83.6444, 96),
}


def test_thousands_dot_with_semicolon_delimiter():
    header, rows = read_rows(FIELD / "15_locale_numbers" / "thousands_dot.csv", ";")
    column = header.index("Energie Wh")
    cells = [row[column] for row in rows]
    fmt = detect_number_format(cells, column="Energie Wh")
    assert fmt == NumberFormat(decimal=",", grouping=".")
    assert fmt.describe() == "decimal comma, '.' thousands grouping"
    values, placeholder, error = read_column(cells, fmt)
    assert error == [None] * len(cells)
    assert values[cells.index("1.032")] == 1032.0
    assert values[cells.index("1.124,0")] == 1124.0
    assert values[cells.index("600")] == 600.0
    assert sorted(c for c, p in zip(cells, placeholder) if p) == ["", "", "NaN", "null"]
    # dd.mm.yyyy HH:MM
    days = ["{2}-{1}-{0}".format(*row[0][:10].split(".")) for row in rows]
    kwh = [v / 1000 if v is not None else None for v in values]
    assert daily(days, kwh) == THOUSANDS_DAYS


@pytest.mark.parametrize("name", ["thousands_comma_placeholders.csv", "blank_trailing_columns.csv"])
def test_thousands_comma_with_comma_delimiter_and_placeholders(name):
    header, rows = read_rows(FIELD / "15_locale_numbers" / name, ",")
    column = header.index("Energy (Wh)")
    cells = [row[column] for row in rows]
    assert "1,310" in cells and "1,124.0" in cells
    fmt = detect_number_format(cells, column="Energy (Wh)")
    assert fmt == NumberFormat(decimal=".", grouping=",")
    values, placeholder, error = read_column(cells, fmt)
    assert error == [None] * len(cells)
    assert values[cells.index("1,310")] == 1310.0
    assert values[cells.index("1,124.0")] == 1124.0
    assert {c for c, p in zip(cells, placeholder) if p} == {"NaN", "-", "null", ""}
    assert all(v is None for v, p in zip(values, placeholder) if p)
    days = [row[0][:10] for row in rows]
    kwh = [v / 1000 if v is not None else None for v in values]
    assert daily(days, kwh) == THOUSANDS_DAYS


def test_wide_day_rows_decimal_comma():
    header, rows = read_rows(FIELD / "05_wide_day_rows" / "quarter_hours_by_day.csv", ";")
    assert len(header) == 97  # Giorno and 96 quarter hours; data rows end with an extra ';'
    cells = [cell for row in rows for cell in row[1:97]]
    fmt = detect_number_format(cells, column="00:00-00:15")
    assert fmt == NumberFormat(decimal=",", grouping=None)
    values, placeholder, error = read_column(cells, fmt)
    assert error == [None] * len(cells) and not any(placeholder)
    days = ["{2}-{1}-{0}".format(*row[0].split("/")) for row in rows for _ in range(96)]
    assert daily(days, values) == {
        "2024-09-02": (7.715, 96),
        "2024-09-03": (8.675, 96),
        "2024-09-04": (9.635, 96),
    }


def test_trailing_delimiter_rows_decimal_comma():
    header, rows = read_rows(FIELD / "05_wide_day_rows" / "trailing_delimiter_rows_only.csv", ";")
    cells = [row[header.index("value")] for row in rows]
    fmt = detect_number_format(cells)
    assert fmt.decimal == ","
    assert read_column(cells, fmt)[0] == [0.5, 0.6, 0.7]


def test_hour_ending_rows_decimal_comma():
    header, rows = read_rows(FIELD / "07_hour_ending_1_to_24" / "hourly_curve.csv", ";")
    column = header.index("Consumo_kWh")
    cells = [row[column] for row in rows]
    fmt = detect_number_format(cells, column="Consumo_kWh")
    assert fmt == NumberFormat(decimal=",", grouping=None)
    values, placeholder, error = read_column(cells, fmt)
    assert error == [None] * len(cells) and not any(placeholder)
    days = ["{2}-{1}-{0}".format(*row[header.index("Fecha")].split("/")) for row in rows]
    assert daily(days, values) == {
        "2024-02-12": (5.72, 24),
        "2024-02-13": (4.8, 24),
        "2024-02-14": (5.28, 24),
    }


# --- detection ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "cells, expected",
    [
        (["600", "1.124,0"], NumberFormat(",", ".")),  # both marks: the last is decimal
        (["600", "1,124.0"], NumberFormat(".", ",")),
        (["600", "0,08"], NumberFormat(",", None)),  # not 3 digits after the separator
        (["600", "1.5"], NumberFormat(".", None)),
        (["1.032", "1.234.567"], NumberFormat(",", ".")),  # used twice: grouping
        (["1,032", "1,234,567"], NumberFormat(".", ",")),
        (["1.032", "0.450"], NumberFormat(".", None)),  # a leading 0 group: decimal
        (["1,032", "-0,093"], NumberFormat(",", None)),
        (["1,032", "1 234,5"], NumberFormat(",", " ")),
        (["1.032", "1'234.5"], NumberFormat(".", "'")),
        (["1,032", "1\u00a0234,5"], NumberFormat(",", "\u00a0")),
        (["1.032", "1\u202f234.5"], NumberFormat(".", "\u202f")),
        (["1.032", "1.5e-3"], NumberFormat(".", None)),  # exponent: never grouped
        (["1,032", "1,5E+03"], NumberFormat(",", None)),
        (["600", "42", "-7", ""], NumberFormat(".", None)),  # whole numbers decide nothing
        ([None, "", "NaN", "-"], NumberFormat(".", None)),
        ([], NumberFormat(".", None)),
        (["1.032", "1.124,0", "12kWh", "n/a"], NumberFormat(",", ".")),  # non-numbers ignored
    ],
)
def test_detect_from_deciding_values(cells, expected):
    assert detect_number_format(cells) == expected


def test_majority_wins_over_a_stray_cell():
    fmt = detect_number_format(["1.5"] * 50 + ["2,5"])
    assert fmt == NumberFormat(".", None)
    values, _, error = read_column(["1.5", "2,5"], fmt)
    assert values == [1.5, None]
    assert error == [None, "value '2,5' is not a number"]


@pytest.mark.parametrize(
    "cells, quoted, readings",
    [
        (["600", "1.032", "980"], "'1.032'", "could be 1.032 or 1032 (decimal point or thousands grouping)"),
        (["600", "1,032"], "'1,032'", "could be 1.032 or 1032 (decimal comma or thousands grouping)"),
        (["-12.500", "1.032"], "'-12.500'", "could be -12.5 or -12500 (decimal point"),
    ],
)
def test_ambiguous_sample_is_refused_naming_the_option(cells, quoted, readings):
    with pytest.raises(NumberFormatAmbiguous) as caught:
        detect_number_format(cells, column="Energie Wh")
    error = caught.value
    assert error.option == "--decimal-mark"
    assert error.message == str(error)
    assert error.message.startswith(f"column 'Energie Wh': {quoted} ")
    assert readings in error.message
    assert "no value in the file decides" in error.message
    assert error.message.endswith("give --decimal-mark . or --decimal-mark ,")


def test_the_exact_wording_of_the_ambiguity():
    with pytest.raises(NumberFormatAmbiguous) as caught:
        detect_number_format(["600", "1.032"], column="Energie Wh")
    assert caught.value.message == (
        "column 'Energie Wh': '1.032' could be 1.032 or 1032 (decimal point or thousands grouping), "
        "and no value in the file decides; give --decimal-mark . or --decimal-mark ,"
    )


def test_mixed_decimal_marks_in_equal_numbers_are_refused():
    with pytest.raises(NumberFormatAmbiguous) as caught:
        detect_number_format(["1.5", "2,5"], column="kWh")
    assert "'1.5'" in caught.value.message and "'2,5'" in caught.value.message
    assert caught.value.option == "--decimal-mark"


def test_the_decimal_mark_option_wins():
    cells = ["600", "1.032", "1,5"]
    assert detect_number_format(cells, decimal_mark=".") == NumberFormat(".", None)
    assert detect_number_format(cells, decimal_mark=",") == NumberFormat(",", ".")
    assert detect_number_format(["1,124.0"], decimal_mark=",") == NumberFormat(",", None)
    with pytest.raises(ValueError):
        detect_number_format(cells, decimal_mark=";")


def test_number_format_rejects_impossible_combinations():
    with pytest.raises(ValueError):
        NumberFormat(".", ".")
    with pytest.raises(ValueError):
        NumberFormat(";", None)
    with pytest.raises(ValueError):
        NumberFormat(",", "_")
    assert NumberFormat(".", None).describe() == "decimal point, no thousands grouping"
    assert NumberFormat(".", "'").describe() == "decimal point, apostrophe thousands grouping"


# --- parsing ------------------------------------------------------------------------


def test_placeholders_are_missing_readings_not_errors():
    cells = [None, "", "  ", "NaN", "nan", "NAN", "-", "--", "null", "NULL", "n/a", "N/A", "NA", "#N/A", "None", " - "]
    for fmt in (NumberFormat("."), NumberFormat(",", ".")):
        values, placeholder, error = read_column(cells, fmt)
        assert values == [None] * len(cells)
        assert placeholder == [True] * len(cells)
        assert error == [None] * len(cells)
    assert {"", "NaN", "-", "null", "N/A", "#N/A"} <= PLACEHOLDERS


def test_bad_cells_are_errors_with_the_cell_quoted():
    long_cell = "x" * 60
    cells = ["12kWh", "1.5 kWh", "inf", "-Infinity", "1e999", "1.2.3", "0x10", long_cell, "1,5", "12"]
    values, placeholder, error = read_column(cells, NumberFormat("."))
    assert values == [None] * 9 + [12.0]
    assert placeholder == [False] * 10
    assert error[:3] == [
        "value '12kWh' is not a number",
        "value '1.5 kWh' is not a number",
        "value 'inf' is not a number",
    ]
    assert error[7] == f"value '{'x' * 40}' is not a number"
    assert all(e is not None for e in error[:9]) and error[9] is None


@pytest.mark.parametrize(
    "fmt, good, bad",
    [
        (
            NumberFormat(",", "."),
            {"1.234,5": 1234.5, "-1.234": -1234, "+12,5": 12.5, " 1.234.567 ": 1234567, ",5": 0.5, "1,5e3": 1500},
            ["1.23", "1.2345", "0.450", "1.234e3", "1,2,3", "12.5", "1 234"],
        ),
        (
            NumberFormat(".", ","),
            {"1,234.5": 1234.5, "12.5": 12.5, "1,234,567": 1234567, "1.5e-3": 0.0015, "-.5": -0.5},
            ["1,23", "12,5", "0,450", "1,234e3", "1,5,6"],
        ),
        (
            NumberFormat(",", " "),
            {"1 234,5": 1234.5, "\u00a01 234\u00a0": 1234, "12,5": 12.5},
            ["1\u00a0234", "1  234", "12.5", "1 23"],
        ),
        (NumberFormat(".", "'"), {"1'234.5": 1234.5, "-9'999'999": -9999999}, ["1'23", "1’234"]),
        (NumberFormat(",", "\u202f"), {"1\u202f234,5": 1234.5}, ["1 234,5"]),
        (NumberFormat(".", None), {"1234.5": 1234.5, "1.": 1.0, "+3": 3}, ["1,234.5", "1 234", "- 5", "5-"]),
    ],
)
def test_each_format_reads_its_own_cells_and_refuses_others(fmt, good, bad):
    cells = list(good) + bad
    values, placeholder, error = read_column(cells, fmt)
    assert values == [float(v) for v in good.values()] + [None] * len(bad)
    assert error[: len(good)] == [None] * len(good)
    assert all(e == f"value '{c.strip()}' is not a number" for c, e in zip(bad, error[len(good) :]))
    assert not any(placeholder)


def test_nan_and_inf_never_become_values_on_the_cast_path():
    # Every cell casts, so the plain path is taken; its NaN/inf must still be sorted out.
    values, placeholder, error = read_column(["1.5", "NaN", "inf", "-inf", "2", None], NumberFormat("."))
    assert values == [1.5, None, None, None, 2.0, None]
    assert placeholder == [False, True, False, False, False, True]
    assert error[2:4] == ["value 'inf' is not a number", "value '-inf' is not a number"]


def test_input_shapes_and_a_long_column():
    cells = ["1.234,5", None, "x", "7"] * 3000  # past the cast probe
    fmt = NumberFormat(",", ".")
    expected = read_column(cells, fmt)
    assert expected[0][:4] == [1234.5, None, None, 7.0]
    for raw in (
        pa.array(cells, pa.large_string()),
        pa.chunked_array([cells[:5001], cells[5001:]]),
        pa.array(["9"] + cells)[1:],  # an offset slice
    ):
        values, placeholder, error = parse_numbers(raw, fmt)
        assert (values.to_pylist(), placeholder.to_pylist(), error.to_pylist()) == expected
        assert values.type == pa.float64() and placeholder.type == pa.bool_() and error.type == pa.string()
    plain = ["1.5", "2"] * 3000
    assert read_column(plain, NumberFormat("."))[0] == read_column(plain + ["n/a"], NumberFormat("."))[0][:-1]


# --- round trips ----------------------------------------------------------------------

SPACES = (" ", "\u00a0", "\u202f")
FORMATS = [NumberFormat(d, g) for d in (".", ",") for g in (None, ".", ",", *SPACES, "'") if g != d]


def group(digits: str, separator: str | None) -> str:
    if not separator:
        return digits
    head = len(digits) % 3 or 3
    return separator.join([digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)])


def export(value: float, fmt: NumberFormat, places: int | None, scientific: bool) -> tuple[str, float]:
    """``value`` written as an exporter in ``fmt`` would, and the number that text holds."""
    if scientific:
        text = f"{value:.{places or 0}e}"
        return text.replace(".", fmt.decimal), float(text)
    text = format(Decimal(repr(value)), "f") if places is None else f"{value:.{places}f}"
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    integer, _, fraction = text.partition(".")
    written = sign + group(integer, fmt.grouping) + (fmt.decimal + fraction if fraction else "")
    return written, float(sign + text)


@st.composite
def exported_columns(draw):
    fmt = draw(st.sampled_from(FORMATS))
    d, g = fmt.decimal, fmt.grouping
    deciders = [(f"12{d}5", 12.5), (f"-0{d}25", -0.25)]
    if g:
        deciders += [(f"1{g}234{d}5", 1234.5), (f"-1{g}234{g}567{d}0", -1234567.0)]
    cells = [draw(st.sampled_from(deciders))]
    numbers = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)
    for _ in range(draw(st.integers(0, 30))):
        value = draw(numbers)
        places = draw(st.one_of(st.none(), st.integers(0, 6)))
        scientific = g is None and draw(st.booleans())
        cells.append(export(value, fmt, places, scientific))
    cells = draw(st.permutations(cells))
    padding = draw(st.sampled_from(["", " ", "  "]))
    texts = [padding + text + padding for text, _ in cells]
    blanks = draw(st.lists(st.sampled_from(sorted(PLACEHOLDERS) + [None]), max_size=3))
    return fmt, texts + blanks, [n for _, n in cells] + [None] * len(blanks)


@settings(max_examples=300, deadline=None)
@given(exported_columns())
def test_exported_numbers_read_back(case):
    fmt, texts, numbers = case
    detected = detect_number_format(texts)
    values, placeholder, error = read_column(texts, detected)
    assert error == [None] * len(texts), (detected, texts)
    assert placeholder == [n is None for n in numbers]
    for got, want in zip(values, numbers):
        if want is None:
            assert got is None
        else:
            assert got is not None and math.isclose(got, want, rel_tol=1e-9, abs_tol=0.0), (got, want)
    # Every column holds a value with the decimal mark; the grouping is found when used.
    assert detected.decimal == fmt.decimal
    if fmt.grouping and any(fmt.grouping in t.strip() for t in texts if t):
        assert detected == fmt


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from([".", ","]),
    st.lists(st.integers(1, 999), min_size=1, max_size=20),
    st.lists(st.integers(0, 999), min_size=1, max_size=20),
)
def test_only_three_digit_groups_is_ambiguous(mark, heads, whole):
    cells = [f"{h}{mark}{h * 7 % 1000:03d}" for h in heads] + [str(w) for w in whole]
    with pytest.raises(NumberFormatAmbiguous) as caught:
        detect_number_format(cells, column="Wh")
    assert caught.value.option == "--decimal-mark"
    assert caught.value.message.startswith(f"column 'Wh': '{cells[0]}' could be ")
    as_decimal = detect_number_format(cells, decimal_mark=mark)
    as_grouping = detect_number_format(cells, decimal_mark="," if mark == "." else ".")
    assert read_column(cells[:1], as_decimal)[0] == [float(cells[0].replace(mark, "."))]
    assert read_column(cells[:1], as_grouping)[0] == [float(cells[0].replace(mark, ""))]
