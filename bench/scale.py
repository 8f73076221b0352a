"""``make bench-scale``: the DuckDB scaling curve, written into BENCHMARKS.md.

A year of 15-minute readings for 100, 1,000 and 3,000 meters (3.5, 35 and 105 million
readings; BENCH_SCALE_METERS changes the sizes): each ingested and built in full, then
two daily uploads built incrementally, in a fresh interpreter each (so peak memory is its
own). The section it writes ("8. Scaling curve") replaces the one in BENCHMARKS.md;
`make bench` keeps it. Takes about half an hour on 2 cores.
"""

from __future__ import annotations

import json
import os
import re
import shutil

from .run import REPO, WORK, days_after_the_year, machine, run_case

SECTION = re.compile(r"<!-- scaling curve -->.*?<!-- /scaling curve -->", re.S)


def render(points: list[dict]) -> str:
    rows = "\n".join(
        f"| {p['meters']:,} | {p['rows'] / 1e6:,.1f} M | {p['ingest_s']} | {p['full_build_s']} | "
        f"{p['full_build_s'] / (p['rows'] / 1e6):.2f} | {p['daily_build_s']} | {p['daily_build_s'] / p['full_build_s']:.1%} | "
        f"{p['peak_rss_mb']:,} |"
        for p in points
    )
    first, last = points[0], points[-1]
    growth = (last["full_build_s"] / last["rows"]) / (first["full_build_s"] / first["rows"])
    return f"""<!-- scaling curve -->
## 8. Scaling curve on DuckDB: a year of 15-minute readings, 3.5 to 105 million

`make bench-scale` ({machine()}). Each size in a
fresh process: the year ingested in one upload and built in full (`energy build
--full-refresh`), then two daily uploads each built incrementally (the second timed).
DuckDB's memory_limit is the profile's (60% of the machine's memory, spilling to
`warehouse.duckdb.tmp` in the workspace beyond it).

| meters | readings | ingest s | full build s | full build s per million readings | daily build s | daily / full | peak memory MB |
|---|---|---|---|---|---|---|---|
{rows}

Goal: the full build's time per million readings does not grow with size (here
{growth:.2f}× from the smallest to the largest), and the largest fits this machine's memory.

Raw figures: `{json.dumps(points)}`
<!-- /scaling curve -->"""


def main() -> None:
    sizes = [int(m) for m in os.environ.get("BENCH_SCALE_METERS", "100,1000,3000").split(",")]
    from sampledata.generator import generate_long_format

    WORK.mkdir(parents=True, exist_ok=True)
    points = []
    for meters in sizes:
        year = generate_long_format(WORK / "scale-year.csv", meters=meters, days=365, interval_minutes=15, seed=11)
        days = days_after_the_year(WORK / "scale-day", meters, count=2, seed=12)
        point = run_case("scaling_point", str(WORK / "scale-home"), str(year.data_path), ",".join(map(str, days)))
        point["meters"] = meters
        points.append(point)
        print("scaling", point, flush=True)
        for path in (year.data_path, *days):
            path.unlink(missing_ok=True)
    shutil.rmtree(WORK / "scale-home", ignore_errors=True)
    section = render(points)
    report_path = REPO / "BENCHMARKS.md"
    report = report_path.read_text() if report_path.exists() else ""
    report = SECTION.sub(lambda _: section, report) if SECTION.search(report) else report.rstrip() + "\n\n" + section + "\n"
    report_path.write_text(report)
    print(section)


if __name__ == "__main__":
    main()
