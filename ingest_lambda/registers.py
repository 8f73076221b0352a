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
            problems.append((pos, f"register fell from {previous[1]:g} to {value[pos]:g} (reset or rollover): interval energy unknown"))
        else:
            # to a micro-watt-hour: the difference of two reads near 15,000 carries binary
            # noise (1.30099999999948 for 1.301) that no register's precision has
            energy[pos] = round(value[pos] - previous[1], 9)
            start_ms[pos] = previous[0]
        state.register_last[meter] = (int(epoch_ms[pos]), float(value[pos]))
    return energy, start_ms, problems


def resample_register_reads(
    meter_names: list,
    epoch_ms: np.ndarray,
    value: np.ndarray,
    valid: np.ndarray,
    state,
    grid_minutes: int,
    max_gap_minutes: int,
) -> tuple[list[tuple[int, int, float]], dict[int, str], set[int]]:
    """Cumulative register values read at irregular times (whenever the register
    changed) into energy per interval of a regular grid, by linear apportionment.

    Between two consecutive reads of a meter, the register's rise is spread evenly over
    the time between them; a grid interval is landed once reads cover it whole. A rise
    over a gap longer than ``max_gap_minutes`` cannot be placed in time: the intervals
    of the gap are left out (never filled); an unchanged register over any gap is exact
    zeros. A fall of the register (reset, rollover) breaks the run like a gap.

    Returns (intervals as (read position that completes it, start epoch ms, energy in
    the register's unit), {read position: why it lands nothing}, positions of reads
    whose energy landed inside intervals another read completes). The open interval of
    each meter carries over to the next batch in ``state.register_open``.
    """
    grid_ms = grid_minutes * 60_000
    intervals: list[tuple[int, int, float]] = []
    problems: dict[int, str] = {}
    absorbed: set[int] = set()
    opened = state.__dict__.setdefault("register_open", {})
    order = sorted(np.flatnonzero(valid), key=lambda i: (meter_names[i], epoch_ms[i]))
    for pos in order:
        meter, t1, v1 = meter_names[pos], int(epoch_ms[pos]), float(value[pos])
        previous = state.register_last.get(meter)
        state.register_last[meter] = (t1, v1)
        if previous is None:
            problems[pos] = "first register read of the meter: it opens the first interval"
            opened.pop(meter, None)
            continue
        t0, v0 = previous
        if t1 == t0:
            problems[pos] = "a second read at the same time with another value" if v1 != v0 else "exact repeat of an earlier register read"
            state.register_last[meter] = previous
            continue
        if v1 < v0:
            problems[pos] = f"register fell from {v0:g} to {v1:g} (reset or rollover): interval energy unknown"
            opened.pop(meter, None)
            continue
        rise = v1 - v0
        if t1 - t0 > max_gap_minutes * 60_000 and rise > 0:
            problems[pos] = (
                f"the register rose by {rise:g} over {(t1 - t0) / 3_600_000:.1f} hours without reads, longer "
                f"than {max_gap_minutes} minutes: when it was used is unknown, so those intervals are left out"
            )
            opened.pop(meter, None)
            continue
        # The open interval continues only if this span starts where coverage ended.
        start_grid = t0 - t0 % grid_ms
        open_interval = opened.get(meter)
        if open_interval is not None and (open_interval[0] != start_grid or open_interval[2] != t0):
            open_interval = None
        energy_so_far, covered_from = (open_interval[1], open_interval[3]) if open_interval else (0.0, t0)
        completed = 0
        g = start_grid
        while g < t1:
            lo, hi = max(t0, g), min(t1, g + grid_ms)
            share = rise * (hi - lo) / (t1 - t0)
            if g == start_grid:
                energy = energy_so_far + share
                start_cover = covered_from
            else:
                energy, start_cover = share, g
            if hi == g + grid_ms:
                if start_cover <= g:  # covered whole, from its start
                    intervals.append((pos, g, round(energy, 9)))  # binary noise off, as above
                    completed += 1
                opened.pop(meter, None)
            else:
                opened[meter] = (g, energy, t1, start_cover)
            g += grid_ms
        if not completed:
            absorbed.add(pos)
    return intervals, problems, absorbed


def reads_are_irregular(meters, stamps_ms) -> bool:
    """Whether a meter's register reads are not on one regular grid (varying gaps, or
    a gap that does not divide a day)."""
    for meter in dict.fromkeys(meters.tolist()):
        own = np.sort(stamps_ms[meters == meter])
        gaps = set((np.diff(own) // 60_000).tolist()) - {0}
        if len(gaps) > 1 or any(1440 % g for g in gaps) or any(t % 60_000 for t in own):
            return True
    return False
