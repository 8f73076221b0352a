"""Cumulative register reads into interval energy."""

from __future__ import annotations

import numpy as np


def register_to_interval_energy(
    meter_names: list, epoch_ms: np.ndarray, value: np.ndarray, valid: np.ndarray, state
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str]]]:
    """Cumulative register reads into interval energy.

    A read at time t closes the interval that started at the previous read. The first
    read of a meter only opens an interval; a read lower than the one before is a
    register reset or rollover, whose interval energy is unknown. Both are reported,
    never turned into (negative) consumption. The last read of each meter carries over
    to the next batch.
    """
    n = len(meter_names)
    energy = np.full(n, np.nan)
    start_ms = np.full(n, -1, dtype=np.int64)
    problems: list[tuple[int, str]] = []
    idx = np.flatnonzero(valid)
    order = sorted(idx, key=lambda i: (meter_names[i], epoch_ms[i]))
    for pos in order:  # register files are small: one read per interval per meter
        meter = meter_names[pos]
        previous = state.register_last.get(meter)
        if previous is None:
            problems.append((pos, "first register read of the meter: it opens the first interval"))
        elif value[pos] < previous[1]:
            problems.append(
                (pos, f"register fell from {previous[1]:g} to {value[pos]:g} (reset or rollover): interval energy unknown")
            )
        else:
            energy[pos] = value[pos] - previous[1]
            start_ms[pos] = previous[0]
        state.register_last[meter] = (int(epoch_ms[pos]), float(value[pos]))
    return energy, start_ms, problems


