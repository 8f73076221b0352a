"""Cells per second of ingest_lambda.numbers.parse_numbers, one format at a time.

    python -m bench.numbers_rate [CELLS]     # default 2,000,000 cells per format

Each column mixes values of 1-5 integer digits and 0-3 decimals, written in the
format, with one placeholder in a thousand. The best of three runs is reported.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest_lambda.numbers import NumberFormat, parse_numbers

FORMATS = {
    "plain (decimal point)": NumberFormat("."),
    "decimal comma": NumberFormat(","),
    "decimal comma, '.' grouping": NumberFormat(",", "."),
    "decimal point, ',' grouping": NumberFormat(".", ","),
    "decimal comma, space grouping": NumberFormat(",", " "),
}


def column(fmt: NumberFormat, cells: int, seed: int = 0) -> pa.Array:
    rng = np.random.default_rng(seed)
    distinct = []
    for _ in range(5000):
        integer = f"{int(rng.integers(0, 10 ** int(rng.integers(1, 6)))):,}"
        integer = integer.replace(",", fmt.grouping or "")
        places = int(rng.integers(0, 4))
        fraction = "".join(str(d) for d in rng.integers(0, 10, places))
        distinct.append(integer + (fmt.decimal + fraction if places else ""))
    distinct.append("NaN")
    picks = rng.integers(0, len(distinct) - 1, cells)
    picks[::1000] = len(distinct) - 1
    return pa.array(distinct, pa.string()).take(pa.array(picks))


def main() -> None:
    cells = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    pa.set_cpu_count(1)
    for name, fmt in FORMATS.items():
        raw = column(fmt, cells)
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            values, placeholder, error = parse_numbers(raw, fmt)
            best = min(best, time.perf_counter() - start)
        assert error.null_count == cells, name
        print(f"{name:32s} {cells / best / 1e6:6.2f} million cells/s  ({best:.3f} s for {cells:,})")
        # the plain cast path needs every cell castable: a placeholder sends it to the full path
        if fmt == NumberFormat("."):
            clean = raw.filter(pc.invert(placeholder))
            took = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                parse_numbers(clean, fmt)
                took = min(took, time.perf_counter() - start)
            print(f"{'plain, no placeholders':32s} {len(clean) / took / 1e6:6.2f} million cells/s")


if __name__ == "__main__":
    main()
