"""Each benchmark case as a function that runs in a fresh interpreter and prints JSON.

Run one with: python -m bench.cases CASE ARGS... (bench.run does this for every case)."""

from __future__ import annotations

import datetime as dt
import json
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it is not carried
    over from the parent across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def floor_copy(csv_path: Path, out: Path) -> None:
    """The floor: pyarrow reads the CSV and writes Parquet, no validation."""
    pq.write_table(pacsv.read_csv(csv_path), out)


def small_ingest(csv_path: str, runs: str) -> dict:
    """Warm, in-process: our ingest, the floor and the seed's pandas, interleaved."""
    from bench.seed_pandas import process
    from ingest_lambda.detect import detect_dialect
    from ingest_lambda.options import IngestOptions
    from ingest_lambda.parse import Upload
    from ingest_lambda.pipeline import ingest_file
    from ingest_lambda.storage import Lakehouse
    from ingest_lambda.validate import validator

    validator()
    path = Path(csv_path)
    timings: dict[str, list[float]] = {"ingest": [], "floor": [], "seed_pandas": [], "detect": []}
    for attempt in range(int(runs) + 2):  # the first two rounds warm caches and are dropped
        work = Path(tempfile.mkdtemp(prefix="bench-"))
        try:
            started = time.perf_counter()
            report = ingest_file(path, "raw/sample.csv", Lakehouse.local(str(work / "home")))
            ingest_s = time.perf_counter() - started
            assert report.rows_landed == 2880, report
            started = time.perf_counter()
            floor_copy(path, work / "floor.parquet")
            floor_s = time.perf_counter() - started
            started = time.perf_counter()
            process(path, work / "seed")
            seed_s = time.perf_counter() - started
            started = time.perf_counter()
            detect_dialect(Upload(path=path), IngestOptions(), "raw/sample.csv")  # the detection stage alone
            detect_s = time.perf_counter() - started
        finally:
            shutil.rmtree(work)
        if attempt >= 2:
            timings["ingest"].append(ingest_s)
            timings["floor"].append(floor_s)
            timings["seed_pandas"].append(seed_s)
            timings["detect"].append(detect_s)
    medians = {k: statistics.median(v) for k, v in timings.items()}
    return {
        "runs": int(runs),
        "median_ms": {k: round(v * 1000, 1) for k, v in medians.items()},
        "ratio_ingest_to_floor": round(medians["ingest"] / medians["floor"], 2),
        "ratio_ingest_to_seed_pandas": round(medians["ingest"] / medians["seed_pandas"], 2),
    }


def large_ingest(csv_path: str) -> dict:
    """One ingest of a large file in this fresh process: throughput and peak memory."""
    from ingest_lambda.pipeline import ingest_file
    from ingest_lambda.storage import Lakehouse
    from ingest_lambda.validate import validator

    validator()
    baseline = peak_rss_mb()
    work = Path(tempfile.mkdtemp(prefix="bench-", dir=Path(csv_path).parent))
    try:
        started = time.perf_counter()
        report = ingest_file(Path(csv_path), "raw/large.csv", Lakehouse.local(str(work)))
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(work)
    return {
        "rows": report.rows_in,
        "landed": report.rows_landed,
        "seconds": round(seconds, 2),
        "rows_per_second": round(report.rows_in / seconds),
        "peak_rss_mb": round(peak_rss_mb()),
        "rss_before_mb": round(baseline),
    }


def write_wide_by_day(path: str, meters: str, days: str, seed: str = "11") -> dict:
    """A wide-by-day export (a row per meter and day, 96 quarter-hour columns named
    00:00-00:15 …, ';' and decimal commas, as Italian and Spanish portals write), of
    meters × days × 96 readings with a daily shape and noise."""
    import numpy as np

    rng = np.random.default_rng(int(seed))
    labels = [f"{s // 4:02d}:{s % 4 * 15:02d}-{(s + 1) // 4:02d}:{(s + 1) % 4 * 15:02d}" for s in range(96)]
    shape = 0.2 + 0.15 * np.sin(np.linspace(0, 2 * np.pi, 96, endpoint=False) - 1.8)
    start = dt.date(2024, 1, 1)
    with open(path, "w", encoding="utf-8") as out:
        out.write("POD;Giorno;" + ";".join(labels) + "\n")
        for meter in range(int(meters)):
            level = rng.uniform(0.5, 2.0)
            values = np.round(level * shape[None, :] * rng.uniform(0.8, 1.2, (int(days), 96)), 3)
            for day in range(int(days)):
                cells = ";".join(f"{v:.3f}".replace(".", ",") for v in values[day])
                out.write(f"IT001E{meter:08d};{(start + dt.timedelta(days=day)).strftime('%d/%m/%Y')};{cells}\n")
    return {"readings": int(meters) * int(days) * 96}


def large_floor(csv_path: str) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-", dir=Path(csv_path).parent))
    try:
        started = time.perf_counter()
        floor_copy(Path(csv_path), work / "floor.parquet")
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(work)
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(peak_rss_mb())}


def unterminated_quote(work_dir: str, megabytes: str = "10", runs: str = "3") -> dict:
    """Reading (parse to text batches) a file with one quote never closed, beside the same
    file without it: the row boundaries are found in one pass, so both read alike."""
    from ingest_lambda.dialect import detect_table
    from ingest_lambda.parse import Upload, check_text, read_upload
    from sampledata.generator import generate_long_format

    work = Path(tempfile.mkdtemp(prefix="bench-quote-", dir=work_dir))
    try:
        days = max(1, round(int(megabytes) * 2**20 / (50 * 96 * 47)))  # about 47 bytes a row
        clean = generate_long_format(work / "clean.csv", meters=50, days=days, interval_minutes=15).data_path
        lines = clean.read_bytes().split(b"\n")
        lines[10] = lines[10].replace(b",", b',"', 1)  # one stray quote near the start
        stray = work / "stray.csv"
        stray.write_bytes(b"\n".join(lines))

        def read(path: Path) -> tuple[float, int, int]:
            started = time.perf_counter()
            rows = malformed = 0
            upload = Upload(path=path)
            for batch in read_upload(upload, detect_table(check_text(upload), whole=False)).batches:
                rows += batch.rows_in
                malformed += len(batch.malformed_rows)
            return time.perf_counter() - started, rows, malformed

        timings: dict[str, list[float]] = {"clean": [], "stray": []}
        for _ in range(int(runs)):  # interleaved, so a noisy moment hits both alike
            for name, path in (("clean", clean), ("stray", stray)):
                seconds, rows, malformed = read(path)
                timings[name].append(seconds)
                if name == "stray":
                    assert malformed == 1, malformed  # the stray row, set aside with its number
        medians = {k: statistics.median(v) for k, v in timings.items()}
        return {
            "megabytes": round(stray.stat().st_size / 2**20, 1),
            "rows": rows,
            "clean_s": round(medians["clean"], 3),
            "stray_s": round(medians["stray"], 3),
            "speed_ratio": round(medians["clean"] / medians["stray"], 2),
        }
    finally:
        shutil.rmtree(work)


def upload_time(days_ago: int) -> dt.datetime:
    """When a bench upload is ingested. The lake is partitioned by ingest day and an
    incremental build reads the partitions from two days before the newest ingest it has
    seen, so uploads stamped on successive days prune as daily uploads would (all on one
    day, every build would read back the year's partition)."""
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)


def week_of_uploads(next_days_csv: str) -> tuple[dt.datetime, list[tuple[int, Path, dt.datetime]]]:
    """When the year is ingested, and each following day's file (numbered from 1) with
    when it is: the days on successive days up to today, the year five days before the
    first, beyond the two days an incremental build reads back."""
    days = next_days_csv.split(",")
    return upload_time(days_ago=len(days) + 5), [
        (number, Path(day_csv), upload_time(days_ago=len(days) - number)) for number, day_csv in enumerate(days, start=1)
    ]


def year_in_fresh_workspace(home: str, year_csv: str, next_days_csv: str):
    """A new workspace at `home` with the year ingested as one upload, stamped as
    week_of_uploads says: (workspace, lakehouse, the days to upload, the year's ingest
    report, seconds the ingest took). Great Expectations is loaded first, untimed."""
    from energy.workspace import Workspace
    from ingest_lambda.pipeline import ingest_file
    from ingest_lambda.storage import Lakehouse
    from ingest_lambda.validate import validator

    validator()
    shutil.rmtree(home, ignore_errors=True)
    workspace = Workspace(Path(home)).ensure()
    lakehouse = Lakehouse.local(home)
    year_ingested_at, days = week_of_uploads(next_days_csv)
    started = time.perf_counter()
    report = ingest_file(Path(year_csv), "raw/year.csv", lakehouse, now=year_ingested_at)
    return workspace, lakehouse, days, report, time.perf_counter() - started


def week_average(builds: list[float]) -> float:
    """A week of builds, from the builds of a week's uploads. Each calibrates the forecast
    bands and accuracy of the meters whose week starts the next day (staggered by
    calibration phase), so no one build stands for the week: their mean does."""
    return statistics.fmean(builds)


def dbt_scale(home: str, full_csv: str, next_days_csv: str) -> dict:
    """A year of 15-minute readings for many meters: ingest, three full dbt builds, then
    a week of daily uploads, each followed by an incremental build. The year ends on a
    Monday; the uploads are of Tuesday to Sunday. Each build also computes again the
    forecast bands and accuracy of the meters whose week starts the next day
    (int_forecast_calibration, staggered by calibration phase). The first full build is also the first dbt
    run of the process and of the workspace (imports, a parse from scratch); the others
    find dbt imported and the parse saved, as an `energy build` finds it in a workspace
    already built once."""
    from energy.warehouse import build
    from ingest_lambda.pipeline import ingest_file

    workspace, lakehouse, days, report, ingest_year_s = year_in_fresh_workspace(home, full_csv, next_days_csv)
    full_s, ingest_day_s, incremental_s, next_day_rows, full_nodes = [], [], [], [], []
    for _ in range(3):
        started = time.perf_counter()
        result = build(workspace, full_refresh=True)
        full_s.append(time.perf_counter() - started)
        assert result.success, result.failures
        full_nodes.append(node_seconds(workspace))
    for number, day_csv, ingested_at in days:
        started = time.perf_counter()
        more = ingest_file(day_csv, f"raw/next-day-{number}.csv", lakehouse, now=ingested_at)
        ingest_day_s.append(time.perf_counter() - started)
        next_day_rows.append(more.rows_landed)
        started = time.perf_counter()
        result = build(workspace)
        incremental_s.append(time.perf_counter() - started)
        assert result.success, result.failures
    shutil.rmtree(home, ignore_errors=True)
    full = statistics.median(full_s)
    daily, recalibration = incremental_s[:-1], incremental_s[-1]
    week_mean = week_average(incremental_s[1:])  # the first re-reads the year's upload (see trino_scale)
    return {
        "rows": report.rows_landed,
        "next_day_rows": next_day_rows[0],
        "ingest_year_s": round(ingest_year_s, 2),
        "full_build_s": round(full, 2),
        "first_full_build_s": round(full_s[0], 2),
        "full_builds_s": [round(s, 2) for s in full_s],
        "ingest_day_s": round(statistics.median(ingest_day_s), 2),
        "daily_builds": len(daily),
        "incremental_build_s": round(statistics.median(daily), 2),
        "incremental_builds_s": [round(s, 2) for s in incremental_s],
        "incremental_share": round(statistics.median(daily) / full, 3),
        "recalibration_build_s": round(recalibration, 2),
        "recalibration_share": round(recalibration / full, 3),
        "week_mean_incremental_s": round(week_mean, 2),
        "week_mean_share": round(week_mean / full, 3),
        "peak_rss_mb": round(peak_rss_mb()),
        # where the median full build's time went, by dbt node
        "full_build_nodes_s": full_nodes[full_s.index(full)],
    }


def node_seconds(workspace, top: int = 12) -> dict[str, float]:
    """Seconds per dbt node of the workspace's last build (dbt's run_results.json), the
    `top` slowest and the rest summed as "(the other N nodes)"."""
    results = json.loads((workspace.dbt_artifacts / "target" / "run_results.json").read_text())["results"]
    timed = sorted(((r["execution_time"], r["unique_id"]) for r in results), reverse=True)
    slowest = {unique_id: round(seconds, 2) for seconds, unique_id in timed[:top]}
    slowest[f"(the other {len(timed[top:])} nodes)"] = round(sum(seconds for seconds, _ in timed[top:]), 2)
    return slowest


def trino_scale(home: str, full_csv: str, next_days_csv: str) -> dict:
    """The same flow on DuckDB and on Trino: a full build, then a week of daily uploads
    (Tuesday to Sunday, as in dbt_scale) with an incremental build after each, every one
    timed, with the bytes it read from storage on Trino (what Athena bills). Each daily
    build calibrates again the forecast bands and accuracy of the meters whose week
    starts the next day (staggered by calibration phase). Named: the second day's build
    ("incremental") and the last day's ("recalibration"), whose per-node reads are kept."""
    import os
    import uuid

    from energy.trino import TrinoServer
    from energy.warehouse import build, maintain
    from energy.workspace import Workspace
    from ingest_lambda.pipeline import ingest_file
    from ingest_lambda.storage import Lakehouse
    from ingest_lambda.validate import validator

    validator()
    shutil.rmtree(home, ignore_errors=True)
    workspace = Workspace(Path(home)).ensure()
    lakehouse = Lakehouse.local(home)
    server = TrinoServer.from_environment()
    run_id = uuid.uuid4().hex[:8]
    os.environ["TRINO_SCHEMA"] = f"bench_{run_id}"
    year_ingested_at, days = week_of_uploads(next_days_csv)
    year = ingest_file(Path(full_csv), "raw/year.csv", lakehouse, now=year_ingested_at)
    figures: dict = {"rows": year.rows_landed, "meters": len(year.dialect["readings_per_meter"])}

    def build_both(step: str, full_refresh: bool = False, keep_nodes: bool = True) -> None:
        for target in ("duckdb", "trino"):
            os.environ["TRINO_USER"] = f"bench_{step}_{run_id}"  # labels this build's queries
            started = time.perf_counter()
            result = build(workspace, target=target, full_refresh=full_refresh)
            figures[f"{target}_{step}_s"] = round(time.perf_counter() - started, 2)
            assert result.success, result.failures
        nodes = server.physical_input_bytes_by_node(f"bench_{step}_{run_id}")
        figures[f"trino_{step}_bytes"] = sum(node["bytes"] for node in nodes.values())
        figures[f"trino_{step}_largest_query_bytes"] = max(node["largest"] for node in nodes.values())
        if keep_nodes:
            figures[f"trino_{step}_nodes"] = nodes

    # A Trino server just started compiles its code paths as it goes (the JVM's JIT):
    # its first build ran 40-60% slower than the next. Warm it with one untimed build.
    os.environ["TRINO_USER"] = f"bench_warmup_{run_id}"
    assert build(workspace, target="trino", full_refresh=True).success
    build_both("full", full_refresh=True)
    named = {2: "incremental", len(days): "recalibration"}
    steps = []
    for number, day_csv, ingested_at in days:
        ingest_file(day_csv, f"raw/day-{number}.csv", lakehouse, now=ingested_at)
        step = named.get(number, f"day_{number}")
        build_both(step, keep_nodes=number in named)
        steps.append(step)
    # The week's small files compacted and old snapshots expired, as the runner does
    # weekly (dbt_project/macros/maintenance.sql): what it reads, against a full build.
    os.environ["TRINO_USER"] = f"bench_maintenance_{run_id}"
    started = time.perf_counter()
    maintain(workspace, target="trino")
    figures["trino_maintenance_s"] = round(time.perf_counter() - started, 2)
    figures["trino_maintenance_bytes"] = sum(
        node["bytes"] for node in server.physical_input_bytes_by_node(f"bench_maintenance_{run_id}").values()
    )
    figures["trino_maintenance_bytes_share"] = round(figures["trino_maintenance_bytes"] / figures["trino_full_bytes"], 3)
    for step in ("incremental", "recalibration"):
        figures[f"trino_{step}_share"] = round(figures[f"trino_{step}_s"] / figures["trino_full_s"], 3)
        figures[f"trino_{step}_bytes_share"] = round(figures[f"trino_{step}_bytes"] / figures["trino_full_bytes"], 3)
    figures["trino_daily_bytes_shares"] = [round(figures[f"trino_{step}_bytes"] / figures["trino_full_bytes"], 3) for step in steps]
    figures["duckdb_daily_s"] = [figures[f"duckdb_{step}_s"] for step in steps]
    figures["trino_daily_s"] = [figures[f"trino_{step}_s"] for step in steps]
    # The first build after the year's import reads that import's lake partition once
    # more (staging reads the lake from two days before the newest upload it has seen):
    # once in a deployment's life, after its history is loaded. The others are the
    # steady state, each with its calibration phase.
    steady = steps[1:]
    figures["trino_first_daily_bytes_share"] = figures["trino_daily_bytes_shares"][0]
    figures["trino_max_daily_bytes_share"] = max(figures["trino_daily_bytes_shares"][1:])
    figures["trino_daily_largest_query_bytes"] = max(figures[f"trino_{step}_largest_query_bytes"] for step in steady)
    figures["trino_week_mean_bytes_share"] = round(
        week_average([figures[f"trino_{step}_bytes"] for step in steady]) / figures["trino_full_bytes"], 3
    )
    shutil.rmtree(home, ignore_errors=True)
    return figures


def scaling_point(home: str, year_csv: str, next_days_csv: str) -> dict:
    """One size of the DuckDB scaling curve: a year of 15-minute readings ingested and
    built in full once, then daily uploads each built incrementally (the last one timed).
    Peak memory is this process's (dbt and DuckDB run in it), with the profile's
    memory_limit and spill folder."""
    from energy.warehouse import build
    from ingest_lambda.pipeline import ingest_file

    workspace, lakehouse, days, year, ingest_s = year_in_fresh_workspace(home, year_csv, next_days_csv)
    figures = {"rows": year.rows_landed, "ingest_s": round(ingest_s, 2)}
    started = time.perf_counter()
    assert build(workspace, full_refresh=True).success
    figures["full_build_s"] = round(time.perf_counter() - started, 2)
    for number, day_csv, ingested_at in days:
        ingest_file(day_csv, f"raw/day-{number}.csv", lakehouse, now=ingested_at)
        started = time.perf_counter()
        assert build(workspace).success
        figures["daily_build_s"] = round(time.perf_counter() - started, 2)
    figures["peak_rss_mb"] = round(peak_rss_mb())
    spill = Path(home) / "warehouse.duckdb.tmp"
    figures["spill_folder_left_mb"] = round(sum(f.stat().st_size for f in spill.rglob("*") if f.is_file()) / 2**20) if spill.exists() else 0
    shutil.rmtree(home, ignore_errors=True)
    return figures


def demo_split(home: str) -> dict:
    """The demo's two working steps, on a warm machine (dependencies installed)."""
    from energy.warehouse import build
    from energy.workspace import Workspace
    from ingest_lambda.pipeline import ingest_file
    from ingest_lambda.storage import Lakehouse
    from sampledata.generator import generate_seed_format

    shutil.rmtree(home, ignore_errors=True)
    workspace = Workspace(Path(home)).ensure()
    sample = generate_seed_format(workspace.raw / "sample.csv")
    started = time.perf_counter()
    ingest_file(sample.data_path, "raw/sample.csv", Lakehouse.local(home))  # Great Expectations import included
    ingest_s = time.perf_counter() - started
    started = time.perf_counter()
    assert build(workspace).success
    build_s = time.perf_counter() - started
    shutil.rmtree(home, ignore_errors=True)
    return {"ingest_s": round(ingest_s, 2), "build_s": round(build_s, 2)}


if __name__ == "__main__":
    case, *args = sys.argv[1:]
    print(json.dumps(globals()[case](*args)))
