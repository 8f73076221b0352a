"""Monthly AWS cost of the stack in infra/template.yaml, from visible inputs.

    python -m infra.cost_model          (or: make costs)

Prices are AWS's public on-demand list prices for us-east-1 as published in 2025 (the
date of PRICES_AS_OF); they were not re-checked when this was run, so check the pricing
pages before relying on a figure. Sizes per reading come from this repository's own
measurements (BENCHMARKS.md; `make bench` re-measures them). Free tiers are ignored, so
the figures are what an account past its first year pays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PRICES_AS_OF = "2025 (us-east-1 list prices)"
# Measured in BENCHMARKS.md case 6 (make bench, 100 meters, 3,504,000 readings held):
# Trino's bytes read per reading held by a daily build, on average over a week's builds
# (9.1% of a full build; each also calibrates the forecasts of the meters whose week
# starts next, a seventh of them), the bytes of calibrating every meter's forecasts (the
# full build's bands and accuracy) and the weekly table maintenance (15.5 MiB).
DAILY_BYTES = 10.3
CALIBRATION_BYTES = 10.7
MAINTENANCE_BYTES = 4.6
CALIBRATION_PHASES = 7
WEEKS_PER_MONTH = 365.25 / 12 / 7


@dataclass(frozen=True)
class Prices:
    s3_standard_gb_month: float = 0.023
    s3_standard_ia_gb_month: float = 0.0125
    s3_put_per_1000: float = 0.005
    s3_get_per_1000: float = 0.0004
    lambda_gb_second: float = 0.0000166667  # x86
    lambda_per_million_requests: float = 0.20
    lambda_ephemeral_gb_second: float = 0.0000000309  # above the free 512 MB
    athena_per_tb_scanned: float = 5.0
    athena_minimum_bytes_per_query: int = 10 * 1000**2
    kms_key_month: float = 1.0
    kms_per_10000_requests: float = 0.03
    sqs_fifo_per_million: float = 0.50
    cloudwatch_alarm_month: float = 0.10
    cloudwatch_custom_metric_month: float = 0.30
    cloudwatch_logs_ingest_gb: float = 0.50
    cloudwatch_logs_store_gb_month: float = 0.03
    ecr_gb_month: float = 0.10
    # EventBridge: events from AWS services (S3) are free; Glue: the catalog stays far
    # below a million objects and requests; SNS: a few alarm mails; dashboard: the first
    # three are free.


@dataclass(frozen=True)
class Workload:
    name: str
    uploads_per_month: int
    readings_per_upload: int
    readings_in_warehouse: int  # average over the month (the history grows)
    # Measured here: CSV ~47 B per reading, lake Parquet ~13.4 B (1.15M readings:
    # 54 MB CSV, 15.4 MB Parquet); the warehouse tables ~40 B per reading on S3.
    csv_bytes_per_reading: float = 47.0
    lake_bytes_per_reading: float = 13.4
    warehouse_bytes_per_reading: float = 40.0
    # Ingest: Great Expectations' import on a cold start (~6 s) plus ~1M readings/s.
    ingest_cold_start_share: float = 0.5
    ingest_cold_start_seconds: float = 7.0
    ingest_readings_per_second: float = 1_000_000
    ingest_memory_gb: float = 3008 / 1024
    ingest_ephemeral_gb: float = 10.0
    # dbt runner: uploads that land during a run share the next one.
    uploads_per_dbt_run: float = 1.0
    dbt_run_seconds: float = 240.0
    dbt_memory_gb: float = 2.0
    dbt_queries_per_run: int = 110  # models, data tests, hooks (a `dbt build`)
    # Bytes a daily incremental build reads per reading in the warehouse (Trino's physical
    # input bytes, BENCHMARKS.md case 6: DAILY_BYTES). It includes calibrating the
    # forecast bands and accuracy of the meters whose week starts the next day: each
    # meter's week starts on its own weekday (one of CALIBRATION_PHASES) and the backtest
    # errors are partitioned by it, so a run reads one phase's errors, however many runs
    # a day there are. A run whose uploads move every meter's week (a month in one file)
    # calibrates the other phases too: CALIBRATION_BYTES for all of them. Per warehouse
    # reading, so they grow with the history held: at 100 meters most files are below
    # Trino's 3 MB whole-file read, which overstates column reads of a larger deployment
    # (a conservative figure).
    athena_bytes_per_warehouse_reading: float = DAILY_BYTES
    athena_calibration_bytes_per_warehouse_reading: float = CALIBRATION_BYTES
    calibrates_every_phase: bool = False
    # The weekly table maintenance (energy maintain: OPTIMIZE and VACUUM), per reading.
    athena_maintenance_bytes_per_warehouse_reading: float = MAINTENANCE_BYTES
    analyst_queries_per_month: int = 200
    analyst_bytes_per_query: int = 200 * 1000**2
    s3_puts_per_upload: int = 8  # raw, lake, quarantine, dq records, Data Docs result
    log_gb_per_month: float = 0.2
    custom_metrics: int = 11  # Powertools metrics x services (EMF)
    alarms: int = 8
    image_gb: float = 1.2


@dataclass
class Line:
    item: str
    usd: float
    how: str


@dataclass
class Estimate:
    workload: Workload
    lines: list[Line] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)


def estimate(w: Workload, p: Prices = Prices()) -> Estimate:
    out = Estimate(w)
    add = lambda item, usd, how: out.lines.append(Line(item, usd, how))  # noqa: E731

    seconds = w.ingest_cold_start_share * w.ingest_cold_start_seconds + w.readings_per_upload / w.ingest_readings_per_second + 0.5
    ingest_gb_s = w.uploads_per_month * seconds * w.ingest_memory_gb
    add(
        "Lambda ingest",
        ingest_gb_s * p.lambda_gb_second
        + w.uploads_per_month * seconds * (w.ingest_ephemeral_gb - 0.5) * p.lambda_ephemeral_gb_second
        + w.uploads_per_month / 1e6 * p.lambda_per_million_requests,
        f"{w.uploads_per_month:,} uploads x {seconds:.1f} s x {w.ingest_memory_gb:.2f} GB",
    )

    runs = w.uploads_per_month / w.uploads_per_dbt_run
    add(
        "Lambda dbt runner",
        runs * w.dbt_run_seconds * w.dbt_memory_gb * p.lambda_gb_second,
        f"{runs:,.0f} runs x {w.dbt_run_seconds:.0f} s x {w.dbt_memory_gb:.0f} GB",
    )

    per_run = max(w.readings_in_warehouse * w.athena_bytes_per_warehouse_reading, w.dbt_queries_per_run * p.athena_minimum_bytes_per_query)
    other_phases = (1 - 1 / CALIBRATION_PHASES) if w.calibrates_every_phase else 0.0
    per_calibration = w.readings_in_warehouse * w.athena_calibration_bytes_per_warehouse_reading * other_phases
    analyst = w.analyst_queries_per_month * max(w.analyst_bytes_per_query, p.athena_minimum_bytes_per_query)
    maintenance = WEEKS_PER_MONTH * w.readings_in_warehouse * w.athena_maintenance_bytes_per_warehouse_reading
    scanned = runs * (per_run + per_calibration) + maintenance + analyst
    add(
        "Athena",
        scanned / 1e12 * p.athena_per_tb_scanned,
        f"{scanned / 1e9:,.1f} GB scanned ({runs:,.0f} builds x {per_run / 1e9:,.2f} GB"
        + (f" + {per_calibration / 1e9:,.2f} GB to calibrate every meter's forecasts" if per_calibration else "")
        + ", "
        f"weekly maintenance {maintenance / 1e9:,.1f} GB, + analysts)",
    )

    readings = w.uploads_per_month * w.readings_per_upload
    raw_gb = readings * w.csv_bytes_per_reading / 1e9
    stored = (w.readings_in_warehouse * (w.lake_bytes_per_reading + w.warehouse_bytes_per_reading)) / 1e9
    raw_history_gb = w.readings_in_warehouse * w.csv_bytes_per_reading / 1e9
    add(
        "S3 storage",
        raw_gb * p.s3_standard_gb_month + max(raw_history_gb - raw_gb, 0) * p.s3_standard_ia_gb_month + stored * p.s3_standard_gb_month,
        f"raw {raw_gb:,.2f} GB new (older in IA), lake + warehouse {stored:,.2f} GB",
    )
    add(
        "S3 requests",
        w.uploads_per_month * w.s3_puts_per_upload / 1000 * p.s3_put_per_1000
        + runs * w.dbt_queries_per_run * 20 / 1000 * p.s3_get_per_1000,
        "uploads' writes and the builds' reads",
    )

    add(
        "KMS",
        p.kms_key_month + (w.uploads_per_month * 20 + runs * w.dbt_queries_per_run * 2) / 10_000 * p.kms_per_10000_requests,
        "one key (bucket keys keep requests low)",
    )
    add("SQS (FIFO run queue)", w.uploads_per_month * 3 / 1e6 * p.sqs_fifo_per_million, "send, receive, delete")
    add(
        "CloudWatch",
        w.alarms * p.cloudwatch_alarm_month
        + w.custom_metrics * p.cloudwatch_custom_metric_month
        + w.log_gb_per_month * (p.cloudwatch_logs_ingest_gb + p.cloudwatch_logs_store_gb_month),
        f"{w.alarms} alarms, {w.custom_metrics} custom metrics, {w.log_gb_per_month} GB logs",
    )
    add("ECR", w.image_gb * p.ecr_gb_month, f"{w.image_gb} GB image")
    return out


def meters_every_15_minutes(meters: int, uploads_per_dbt_run: float = 1.0) -> Workload:
    """`meters` read every 15 minutes, sent as one daily file per 1,000 meters; the
    warehouse holds half a year on average in the first year. Every run calibrates the
    meters of its files whose week starts the next day, reading their phase's errors."""
    files_a_day = max(1, meters // 1_000)
    return Workload(
        f"{meters:,} meters every 15 minutes ({files_a_day:,} file{'s' if files_a_day > 1 else ''} a day"
        + (f", one dbt run per {uploads_per_dbt_run:g} uploads)" if uploads_per_dbt_run > 1 else ")"),
        uploads_per_month=30 * files_a_day,
        readings_per_upload=96 * min(meters, 1_000),
        readings_in_warehouse=meters * 96 * 182,
        uploads_per_dbt_run=uploads_per_dbt_run,
    )


SCENARIOS = [
    # The seed's scenario: 100 uploads a month of the 2,880-reading sample file.
    # Each upload holds a month, so every run calibrates every meter's forecasts.
    Workload(
        "seed: 100 uploads a month of 2,880 readings",
        uploads_per_month=100,
        readings_per_upload=2_880,
        readings_in_warehouse=6 * 100 * 2_880,
        calibrates_every_phase=True,
    ),
    meters_every_15_minutes(1_000),
    meters_every_15_minutes(10_000),
    # 100 files a day: bursts coalesced, a run every ten uploads (the run queue takes up
    # to ten requests a run).
    meters_every_15_minutes(100_000, uploads_per_dbt_run=10),
]


def render(estimates: list[Estimate]) -> str:
    lines = [f"Monthly AWS cost estimates, prices as of {PRICES_AS_OF}", ""]
    for e in estimates:
        lines.append(f"## {e.workload.name}: ${e.total:,.2f} a month")
        for line in e.lines:
            lines.append(f"  {line.item:<22} ${line.usd:>9,.2f}   {line.how}")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render([estimate(w) for w in SCENARIOS]))
