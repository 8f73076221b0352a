"""``make bench``: run the benchmark cases and write BENCHMARKS.md.

Every large case runs in a fresh interpreter (so peak memory is its own) several times;
the report gives medians, and ratios of figures measured in the same run, because
these machines are shared and noisy. Sizes and repeats can be set with BENCH_ROWS
(default 10,000,000), BENCH_RUNS (default 3), BENCH_DBT_METERS (default 1,000) and
BENCH_TRINO_METERS (default 100). Case 6 starts the local Trino server when none answers.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "workspace" / "bench"


def run_case(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench.cases", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GX_ANALYTICS_ENABLED": "false"},
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmark case {args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def days_after_the_year(prefix: Path, meters: int, count: int, seed: int) -> list[Path]:
    """One file per day of 15-minute readings for the `count` days after the generated
    year (which starts on 2024-01-01)."""
    from sampledata.generator import generate_long_format

    return [
        generate_long_format(
            prefix.with_name(f"{prefix.name}-{day}.csv"),
            meters=meters,
            days=1,
            interval_minutes=15,
            seed=seed + day,
            start=dt.datetime(2024, 1, 1) + dt.timedelta(days=365 + day),
        ).data_path
        for day in range(count)
    ]


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GiB RAM"
    return f"{os.cpu_count()} cores ({cpu}){memory}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def node_table(nodes: dict[str, float], total_s: float) -> str:
    """Markdown table of seconds per dbt node, with each one's share of the build."""
    lines = ["| dbt node | seconds | share of the build |", "|---|---|---|"]
    for node, seconds in nodes.items():
        name = node if node.startswith("(") else ".".join(node.split(".")[2:])
        lines.append(f"| {name[:90]} | {seconds} | {seconds / total_s:.0%} |")
    return "\n".join(lines)


def bytes_by_node_table(on_trino: dict, top: int = 10) -> str:
    """Markdown: the nodes that read most in the daily build, with their bytes in the
    Sunday's build and the full build."""
    daily, weekly, full = (on_trino[f"trino_{step}_nodes"] for step in ("incremental", "recalibration", "full"))
    total = on_trino["trino_incremental_bytes"] or 1
    lines = ["| dbt node | daily build | share of the daily build | Sunday's build | full build |", "|---|---|---|---|---|"]
    for node, figures in sorted(daily.items(), key=lambda item: -item[1]["bytes"])[:top]:
        parts = node.split(".")  # model.energy.NAME, test.energy.NAME.HASH, or (other)
        name = f"test: {parts[2]}" if parts[0] == "test" else parts[-1]
        lines.append(
            f"| {name} | {figures['bytes'] / 2**20:,.2f} MiB | {figures['bytes'] / total:.1%} | "
            f"{weekly.get(node, {}).get('bytes', 0) / 2**20:,.2f} MiB | {full.get(node, {}).get('bytes', 0) / 2**20:,.2f} MiB |"
        )
    return "\n".join(lines)


def cutoff_meters(on_trino: dict, step: str, limit: int = 10 * 2**30) -> int:
    """Meters at which the largest query of a build `step` would read `limit` bytes
    (Athena's per-query cutoff in the stack's workgroup), scaling linearly with meters."""
    per_meter = on_trino[f"trino_{step}_largest_query_bytes"] / on_trino["meters"]
    return int(limit / per_meter) if per_meter else 0


def per_reading(on_trino: dict) -> dict:
    """Bytes read per reading held: a daily build (the week's mean), calibrating every
    meter's forecast bands and accuracy (their nodes in the full build), and the weekly
    maintenance: the cost model's inputs."""
    readings = on_trino["rows"]
    calibration_nodes = ("model.energy.int_forecast_bands", "model.energy.fct_forecast_accuracy")
    return {
        "daily": on_trino["trino_week_mean_bytes_share"] * on_trino["trino_full_bytes"] / readings,
        "calibration": sum(on_trino["trino_full_nodes"].get(node, {}).get("bytes", 0) for node in calibration_nodes) / readings,
        "maintenance": on_trino["trino_maintenance_bytes"] / readings,
    }


def median_of(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def main() -> None:
    from sampledata.generator import generate_long_format, generate_seed_format

    rows = int(os.environ.get("BENCH_ROWS", 10_000_000))
    runs = int(os.environ.get("BENCH_RUNS", 3))
    WORK.mkdir(parents=True, exist_ok=True)
    seed_csv = generate_seed_format(WORK / "seed.csv").data_path
    # The small case first, before gigabytes of generated files are written back to disk.
    small = run_case("small_ingest", str(seed_csv), str(max(10, 5 * runs)))
    print("case 1", small, flush=True)
    quote = run_case("unterminated_quote", str(WORK), "10", str(runs))
    print("case 7", quote, flush=True)
    meters = max(1, rows // (105 * 96))
    large = generate_long_format(WORK / "large.csv", meters=meters, days=105, interval_minutes=15)
    double = generate_long_format(WORK / "double.csv", meters=2 * meters, days=105, interval_minutes=15)
    print(f"data: {large.rows:,} and {double.rows:,} rows", flush=True)

    # The same number of readings written wide by day (a row per meter and day).
    wide, wide_double = WORK / "wide.csv", WORK / "wide-double.csv"
    run_case("write_wide_by_day", str(wide), str(meters), "105")
    run_case("write_wide_by_day", str(wide_double), str(2 * meters), "105")

    large_runs, floor_runs, double_runs, wide_runs, wide_double_runs = [], [], [], [], []
    for _ in range(runs):  # interleaved, so a noisy minute hits all of them alike
        large_runs.append(run_case("large_ingest", str(large.data_path)))
        floor_runs.append(run_case("large_floor", str(large.data_path)))
        double_runs.append(run_case("large_ingest", str(double.data_path)))
        wide_runs.append(run_case("large_ingest", str(wide)))
        wide_double_runs.append(run_case("large_ingest", str(wide_double)))
        print("case 2", large_runs[-1], floor_runs[-1], double_runs[-1], wide_runs[-1], wide_double_runs[-1], flush=True)
    wide.unlink(missing_ok=True)
    wide_double.unlink(missing_ok=True)

    # Case 3: a year of 15-minute readings for many meters through dbt.
    dbt_meters = int(os.environ.get("BENCH_DBT_METERS", 1000))
    year = generate_long_format(WORK / "year.csv", meters=dbt_meters, days=365, interval_minutes=15, seed=5)
    # the year ends on a Monday: Tuesday to Sunday, a week of daily uploads
    next_days = days_after_the_year(WORK / "next-day", dbt_meters, count=6, seed=6)
    scale = run_case("dbt_scale", str(WORK / "dbt-home"), str(year.data_path), ",".join(map(str, next_days)))
    print("case 3", scale, flush=True)
    for path in (year.data_path, *next_days, large.data_path, double.data_path):
        path.unlink(missing_ok=True)

    # Case 6: the same flow on Trino beside DuckDB, with the bytes each build read.
    trino_meters = int(os.environ.get("BENCH_TRINO_METERS", 100))
    trino_year = generate_long_format(WORK / "trino-year.csv", meters=trino_meters, days=365, interval_minutes=15, seed=8)
    trino_days = days_after_the_year(WORK / "trino-day", trino_meters, count=6, seed=9)
    from energy.trino import local_server

    with local_server():
        on_trino = run_case("trino_scale", str(WORK / "trino-home"), str(trino_year.data_path), ",".join(map(str, trino_days)))
    print("case 6", on_trino, flush=True)
    for path in (trino_year.data_path, *trino_days):
        path.unlink(missing_ok=True)

    # Case 4: the demo, split into install, ingest and build.
    demo_runs = [run_case("demo_split", str(WORK / "demo-home")) for _ in range(runs)]
    demo_wall = []
    for _ in range(runs):
        shutil.rmtree(WORK / "demo-cli", ignore_errors=True)
        started = time.perf_counter()
        subprocess.run(
            [str(REPO / ".venv" / "bin" / "energy"), "demo"],
            cwd=REPO,
            check=True,
            capture_output=True,
            env={**os.environ, "ENERGY_HOME": str(WORK / "demo-cli")},
        )
        demo_wall.append(time.perf_counter() - started)
    started = time.perf_counter()
    subprocess.run(
        [str(REPO / ".venv" / "bin" / "uv"), "sync", "--frozen", "--quiet"],
        cwd=REPO,
        check=True,
        env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(WORK / "venv")},
    )
    install_s = time.perf_counter() - started
    shutil.rmtree(WORK / "venv", ignore_errors=True)
    print("case 4", demo_runs, demo_wall, install_s, flush=True)

    ingest_s = median_of(large_runs, "seconds")
    floor_s = median_of(floor_runs, "seconds")
    held = per_reading(on_trino)
    report = f"""# Benchmarks

Measured by `make bench` on {dt.date.today().isoformat()}: {machine()}.
Medians of several runs; ratios compare figures measured in the same run. Re-run with
`make bench` (sizes: `BENCH_ROWS=10000000 BENCH_RUNS=3 make bench`).

## 1. Ingest of the 2,880-row seed-format file (warm, in-process)

Median of {small["runs"]} runs after two warm-up rounds, each round running all three one after the other.

| what | median |
|---|---|
| `ingest_file` (parse, normalise, Great Expectations, land Parquet, quarantine, dq records) | {small["median_ms"]["ingest"]} ms |
| floor: pyarrow reads the CSV and writes Parquet, no validation | {small["median_ms"]["floor"]} ms |
| the seed's processing in pandas (z-scores, daily totals, forecast, Parquet) | {small["median_ms"]["seed_pandas"]} ms |
| ratio ingest / floor | {small["ratio_ingest_to_floor"]} |
| ratio ingest / seed pandas | {small["ratio_ingest_to_seed_pandas"]} |
| of the ingest: the detection stage alone (table start, layout, conventions; part of the ingest's time) | {small["median_ms"]["detect"]} ms |

Goal: at most 100 ms; detection adds at most 10 ms.

## 2. Ingest of a large long-format file (15-minute readings, {meters:,} meters × 105 days)

Each run in a fresh process; peak memory is that process's maximum resident set size,
Great Expectations included (about {round(median_of(large_runs, "rss_before_mb"))} MB before the first row).

| what | rows | median seconds | rows per second | peak memory |
|---|---|---|---|---|
| ingest | {large.rows:,} | {ingest_s} | {median_of(large_runs, "rows_per_second"):,.0f} | {median_of(large_runs, "peak_rss_mb"):,.0f} MB |
| ingest, file twice as large | {double.rows:,} | {median_of(double_runs, "seconds")} | {median_of(double_runs, "rows_per_second"):,.0f} | {median_of(double_runs, "peak_rss_mb"):,.0f} MB |
| floor: pyarrow read CSV + write Parquet | {large.rows:,} | {floor_s} | {large.rows / floor_s:,.0f} | {median_of(floor_runs, "peak_rss_mb"):,.0f} MB |
| ingest, the same readings wide by day (a row per meter and day, 96 columns, `;` and decimal commas) | {median_of(wide_runs, "rows"):,.0f} | {median_of(wide_runs, "seconds")} | {median_of(wide_runs, "rows_per_second"):,.0f} | {median_of(wide_runs, "peak_rss_mb"):,.0f} MB |
| ingest, wide by day, twice as large | {median_of(wide_double_runs, "rows"):,.0f} | {median_of(wide_double_runs, "seconds")} | {median_of(wide_double_runs, "rows_per_second"):,.0f} | {median_of(wide_double_runs, "peak_rss_mb"):,.0f} MB |

Rows are readings (a wide row holds 96).

- ratio ingest / floor (time): {ingest_s / floor_s:.2f}
- wide by day / long, readings per second: {median_of(wide_runs, "rows_per_second") / median_of(large_runs, "rows_per_second"):.2f}
- peak memory wide by day, twice the readings / the readings: {median_of(wide_double_runs, "peak_rss_mb") / median_of(wide_runs, "peak_rss_mb"):.2f}
- peak memory, twice the rows / the rows: {median_of(double_runs, "peak_rss_mb") / median_of(large_runs, "peak_rss_mb"):.2f}

Goal: at least 1,000,000 rows per second with flat peak memory. The floor reads the
whole file into memory, so its peak grows with the file; the ingest reads 32 MiB
pieces and its peak does not.

## 3. dbt build on DuckDB: {dbt_meters:,} meters × 365 days × 96 intervals

| step | seconds |
|---|---|
| ingest the year ({scale["rows"]:,} rows, one upload) | {scale["ingest_year_s"]} |
| `energy build --full-refresh` (models and data tests; the unit tests run in `make test`), median of 3 | {scale["full_build_s"]} |
| the first of them, which also imports dbt and parses the project from scratch | {scale["first_full_build_s"]} |
| ingest one more day ({scale["next_day_rows"]:,} rows), median of {len(scale["incremental_builds_s"])} days | {scale["ingest_day_s"]} |
| daily incremental `energy build` (models and data tests), median of the {scale["daily_builds"]} builds after Tuesday to Saturday | {scale["incremental_build_s"]} |
| daily incremental / full (medians) | {scale["incremental_share"]:.1%} |
| Sunday's build | {scale["recalibration_build_s"]} ({scale["recalibration_share"]:.1%} of full) |
| the week's daily builds after the first on average | {scale["week_mean_incremental_s"]} ({scale["week_mean_share"]:.1%} of full) |

The year (2024, ending on Monday 30 December) is followed by a week of daily uploads,
Tuesday to Sunday, each stamped on its own day and the year's five days before the
first: an incremental build reads the lake partitions from two days before the newest
ingest it has seen, so each reads only the last days'. The forecast bands and accuracy
are calibrated on the forecast days before the start of each meter's week (var
forecast_calibration_days, 7), and the weeks are staggered by meter (var
forecast_calibration_stagger): every daily build computes them again for the meters
whose week starts the next day, about a seventh of them.

Goal: full build at most 60 s, incremental at most 10% of it. Every build runs in the
same process, as `energy build` calls dbt in-process. Peak memory of the process: {scale["peak_rss_mb"]:,} MB.

Where the median full build's time went (dbt's own timing of each node; the build's
parse and start-up are the rest):

{node_table(scale["full_build_nodes_s"], scale["full_build_s"])}

## 4. The demo: install, ingest, build

| step | median seconds |
|---|---|
| install (`uv sync --frozen` into a new environment, package cache warm) | {install_s:.1f} |
| ingest of the sample (Great Expectations import included) | {statistics.median(r["ingest_s"] for r in demo_runs)} |
| `dbt build` | {statistics.median(r["build_s"] for r in demo_runs)} |
| `energy demo` end to end (new process: imports, generate, ingest, build, summary) | {statistics.median(demo_wall):.1f} |

Goal: ingest and build together at most 15 s on a warm machine.

## 6. The same project on Trino: {trino_meters:,} meters × 365 days × 96 intervals

Trino {os.environ.get("TRINO_VERSION", "476")}, one node on this machine (`trino/server.sh start`), models
as Iceberg tables, the lake as external Hive tables over the same Parquet files. Bytes
read are Trino's physical input bytes summed over every query of the build (tests
included): the quantity Athena bills, at $5 per TB. One untimed full build warms the
server first (a just-started JVM ran the first build 40-60% slower).

| step | DuckDB seconds | Trino seconds | Trino bytes read |
|---|---|---|---|
| full build (`--full-refresh`), {on_trino["rows"]:,} readings | {on_trino["duckdb_full_s"]} | {on_trino["trino_full_s"]} | {on_trino["trino_full_bytes"] / 2**20:,.1f} MiB |
| a daily build (Wednesday's upload), incremental | {on_trino["duckdb_incremental_s"]} | {on_trino["trino_incremental_s"]} | {on_trino["trino_incremental_bytes"] / 2**20:,.1f} MiB |
| daily / full | {on_trino["duckdb_incremental_s"] / on_trino["duckdb_full_s"]:.1%} | {on_trino["trino_incremental_share"]:.1%} | {on_trino["trino_incremental_bytes_share"]:.1%} |
| Sunday's build, the last of the week's uploads | {on_trino["duckdb_recalibration_s"]} | {on_trino["trino_recalibration_s"]} | {on_trino["trino_recalibration_bytes"] / 2**20:,.1f} MiB |
| Sunday's / full | {on_trino["duckdb_recalibration_s"] / on_trino["duckdb_full_s"]:.1%} | {on_trino["trino_recalibration_share"]:.1%} | {on_trino["trino_recalibration_bytes_share"]:.1%} |
| each daily build, Tuesday to Sunday: seconds, and bytes / full | {" · ".join(str(v) for v in on_trino["duckdb_daily_s"])} | {" · ".join(str(v) for v in on_trino["trino_daily_s"])} | {" · ".join(f"{v:.1%}" for v in on_trino["trino_daily_bytes_shares"])} |
| the week's daily builds after the first on average, bytes / full | | | {on_trino["trino_week_mean_bytes_share"]:.1%} |
| weekly table maintenance after the week (`energy maintain`: optimize, expire snapshots, remove orphan files) | | {on_trino["trino_maintenance_s"]} | {on_trino["trino_maintenance_bytes"] / 2**20:,.1f} MiB ({on_trino["trino_maintenance_bytes_share"]:.1%} of a full build) |

Goals: a daily build at most 10% of a full build's bytes, the build that completes a
week at most 30%, a week's average at most 15%. There is no weekly build any more:
each meter's week starts on its own weekday (its calibration phase), so every daily
build calibrates the forecast bands and accuracy of a seventh of the meters again,
reading only their partitions of the backtest errors; the largest daily build after the
first read {on_trino["trino_max_daily_bytes_share"]:.1%} of a full build. The first daily build after the year's import read
{on_trino["trino_first_daily_bytes_share"]:.1%}: staging reads the lake from two days before the newest upload it has seen, which
is the year's import itself, so it reads that import once more; this happens once in a
deployment's life, after its history is loaded. An incremental build reads the new uploads, the window of
history each model needs before them (28 days for anomaly baselines, 60 for forecast
origins; monthly partitions, so whole months), and the daily-grain tables that the
summary and the data tests read whole. Trino reads a Parquet file smaller than 3 MB
whole (`parquet.small-file-threshold`), whatever columns a query needs: at
{trino_meters:,} meters most files are that small, so these bytes overstate what a
larger deployment's column reads cost.

What each dbt node (model or data test) read on Trino, from the query comment dbt puts
before each of its queries: the ten largest readers of the daily build, beside what the
same node read in Sunday's and the full build. "(other)" is what no node ran: the
run-start hook and dbt's catalog lookups.

{bytes_by_node_table(on_trino)}

The largest single query of a full build read {on_trino["trino_full_largest_query_bytes"] / 2**20:,.1f} MiB for
{on_trino["meters"]:,} meters; Athena's per-query cutoff of 10 GiB would be passed at about
{cutoff_meters(on_trino, "full"):,} meters in a full build of a year. The largest of any of the week's daily
builds read {on_trino["trino_daily_largest_query_bytes"] / 2**20:,.1f} MiB: about {cutoff_meters(on_trino, "daily"):,} meters. All scale with
meters × days of history held, read linearly from these runs.

Per reading held, for the cost model (`make costs`, infra/cost_model.py): a daily build
reads {held["daily"]:.1f} B on average over the week (DAILY_BYTES), calibrating every meter's
forecasts {held["calibration"]:.1f} B (CALIBRATION_BYTES: the full build's bands and accuracy), the
weekly maintenance {held["maintenance"]:.1f} B (MAINTENANCE_BYTES).

## 7. A 10 MB file with one quote never closed

Reading it (parse into text batches) beside the same file without the stray quote,
median of {runs} interleaved runs each: row boundaries are found in one forward pass, and
the row with the stray quote is set aside with its number.

| what | {quote["megabytes"]} MB, {quote["rows"]:,} rows |
|---|---|
| without the stray quote | {quote["clean_s"]} s |
| with one stray quote near the start | {quote["stray_s"]} s |
| speed with / without | {quote["speed_ratio"]} |

Goal: at least 0.5.

Raw figures: `{json.dumps({"small": small, "unterminated_quote": quote, "large": large_runs, "double": double_runs, "wide": wide_runs, "wide_double": wide_double_runs, "floor": floor_runs, "dbt_scale": scale, "demo": demo_runs, "demo_wall": demo_wall, "trino": on_trino, "install_s": install_s})}`
"""
    # The scaling curve (make bench-scale, bench/scale.py) is measured apart: keep it.
    from .scale import SECTION

    previous = (REPO / "BENCHMARKS.md").read_text() if (REPO / "BENCHMARKS.md").exists() else ""
    kept = SECTION.search(previous)
    if kept:
        report = report.rstrip() + "\n\n" + kept.group(0) + "\n"
    (REPO / "BENCHMARKS.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
