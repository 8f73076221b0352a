"""Cells per second of ingest_lambda.numbers.parse_numbers, one format at a time.

    python -m bench.numbers_rate [CELLS]     # default 2,000,000 cells per case

Each column mixes values of 1-5 integer digits and 0-3 decimals written in the
format, with one placeholder in a thousand. Arrow is held to one thread; the best of
three runs is reported.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pyarrow as pa

from ingest_lambda.numbers import NumberFormat, parse_numbers

CASES = [
    # name, format, placeholder text
    ("plain, no placeholders", NumberFormat("."), None),
    ("plain, 'NaN' placeholders", NumberFormat("."), "NaN"),  # the cast reads them: its path
    ("plain, '-' placeholders", NumberFormat("."), "-"),  # the cast fails: the full path
    ("decimal comma", NumberFormat(","), "-"),
    ("decimal comma, '.' grouping", NumberFormat(",", "."), ""),
    ("decimal point, ',' grouping", NumberFormat(".", ","), "NaN"),
    ("decimal comma, space grouping", NumberFormat(",", " "), "null"),
]


def column(fmt: NumberFormat, placeholder: str | None, cells: int, seed: int = 0) -> pa.Array:
    rng = np.random.default_rng(seed)
    distinct = []
    for _ in range(5000):
        integer = f"{int(rng.integers(0, 10 ** int(rng.integers(1, 6)))):,}"
        integer = integer.replace(",", fmt.grouping or "")
        places = int(rng.integers(0, 4))
        fraction = "".join(str(d) for d in rng.integers(0, 10, places))
        distinct.append(integer + (fmt.decimal + fraction if places else ""))
    picks = rng.integers(0, len(distinct), cells)
    if placeholder is not None:
        distinct.append(placeholder)
        picks[::1000] = len(distinct) - 1
    return pa.array(distinct, pa.string()).take(pa.array(picks))


def main() -> None:
    cells = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    pa.set_cpu_count(1)
    for name, fmt, placeholder in CASES:
        raw = column(fmt, placeholder, cells)
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            _, _, error = parse_numbers(raw, fmt)
            best = min(best, time.perf_counter() - start)
        assert error.null_count == cells, name
        print(f"{name:32s} {cells / best / 1e6:6.2f} million cells/s  ({best:.3f} s for {cells:,})")


if __name__ == "__main__":
    main()
