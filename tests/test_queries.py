"""The example analyses in queries/ run on the demo data."""

from __future__ import annotations

from pathlib import Path

import pytest

from energy.warehouse import query

QUERIES = sorted((Path(__file__).resolve().parents[1] / "queries").glob("*.sql"))


@pytest.mark.parametrize("path", QUERIES, ids=[p.stem for p in QUERIES])
def test_example_query_runs(path, demo_workspace):
    result = query(demo_workspace, path.read_text())
    if path.stem == "data_quality_failures":
        assert result.num_rows == 0  # the demo sample passes every rule
    else:
        assert result.num_rows > 0
