"""The seed's processing, as the seed did it: pandas over the whole file.

Kept only as a yardstick for the benchmark: read the CSV, flag readings more than two
standard deviations above each appliance's mean over the whole file, total per day,
forecast the next 7 days as the mean of the last 30 daily totals +/- 2 stddev, and
write the results as Parquet.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def process(csv_path: Path, out_dir: Path) -> None:
    frame = pd.read_csv(csv_path, parse_dates=["timestamp"])
    stats = frame.groupby("appliance")["kwh"].agg(["mean", "std"])
    frame = frame.join(stats, on="appliance")
    frame["z_score"] = (frame["kwh"] - frame["mean"]) / frame["std"]
    frame["is_anomaly"] = frame["z_score"] > 2
    daily = frame.groupby(["appliance", frame["timestamp"].dt.date])["kwh"].sum().reset_index()
    last30 = daily.groupby("appliance").tail(30).groupby("appliance")["kwh"].agg(["mean", "std"])
    forecast = pd.DataFrame(
        {
            "appliance": last30.index,
            "forecast_kwh": last30["mean"].values,
            "lower_kwh": (last30["mean"] - 2 * last30["std"]).values,
            "upper_kwh": (last30["mean"] + 2 * last30["std"]).values,
        }
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out_dir / "readings.parquet")
    daily.to_parquet(out_dir / "daily.parquet")
    forecast.to_parquet(out_dir / "forecast.parquet")
