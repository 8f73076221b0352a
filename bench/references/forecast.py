"""Reference forecasts for `make evaluate`, on exactly the days the project's backtest scores.

Runs in its own environment (bench/references/uv.lock, installed in .venv-references by
`make evaluate`), because statsforecast needs pandas < 3; `bench/evaluate.py` calls it as

    .venv-references/bin/python bench/references/forecast.py INPUT_DIR OUTPUT_JSON

INPUT_DIR holds what `bench/evaluate.py` exported from one meter's warehouse:

- series.csv: reading_date, total_kwh. The meter's complete daily totals
  (int_daily_series): the only days any method learns from.
- scored.csv: origin_date, horizon_days, forecast_date, actual_kwh, period. The project's
  scored backtest rows (int_forecast_backtest of one method): the same origins, horizons
  and forecast days, so every reference is scored on the same errors.
- meta.json: {"last_period_from": "YYYY-MM-DD"}, the first forecast day of the last
  backtest period.

The references, each refitted at every origin on the days up to that origin only:

- statsforecast (Nixtla) SeasonalNaive, AutoETS and MSTL with season length 7, through
  `StatsForecast.cross_validation` (one window per origin, step 1 day, h = 7) with 95%
  prediction intervals. They need a regular daily series: a day the project does not
  count as complete is filled by linear interpolation between its neighbours (it is never
  scored: only complete days are actuals).
- Prophet (if installed): its defaults (weekly seasonality, yearly seasonality once it
  has two years, no holidays), 95% intervals, fitted on the complete days only, as
  Prophet is built to take gaps.

OUTPUT_JSON: {model: {"horizons": [{"horizon_days", "n", "mae", "coverage",
"coverage_n", "band_width_kwh"}], "periods" ({period: MAE}), "mae" (mean of the
per-horizon MAEs, as the project's figures), "mape" (%, days with a positive actual),
"last_period_mae", "cpu_s" (this process and its children, i.e. Prophet's
Stan), "wall_s"}}. Coverage and width are of the model's own 95% intervals, on the rows
whose period > 0 (those the project scores its own out-of-sample coverage on).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HORIZON = 7
SEASON = 7
LEVEL = 95


def cpu_seconds() -> float:
    """User and system CPU of this process and its finished children (Prophet runs Stan
    as a child process)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def regular_series(series: pd.DataFrame, last_day: pd.Timestamp) -> pd.DataFrame:
    """The daily series from its first day to last_day without gaps, in statsforecast's
    long format (unique_id, ds, y): missing days interpolated, days after the data carried
    forward (they are never scored)."""
    days = pd.date_range(series["ds"].min(), last_day, freq="D")
    y = series.set_index("ds")["y"].reindex(days).interpolate(limit_area="inside").ffill()
    return pd.DataFrame({"unique_id": "meter", "ds": days, "y": y.to_numpy()})


def statsforecast_forecasts(series: pd.DataFrame, origins: pd.DatetimeIndex) -> dict[str, tuple[pd.DataFrame, float, float]]:
    """Each statsforecast model's forecasts from every origin (cutoff, ds, yhat, lo, hi),
    with its CPU and wall seconds."""
    from statsforecast import StatsForecast
    from statsforecast.models import MSTL, AutoETS, SeasonalNaive

    first, last = origins.min(), origins.max()
    regular = regular_series(series, last + pd.Timedelta(days=HORIZON))
    # cross_validation's windows end at the series' end: cut it HORIZON days after the
    # last origin, and take one window per day from the first origin
    windows = (last - first).days + 1
    models = {
        "SeasonalNaive": SeasonalNaive(season_length=SEASON),
        "AutoETS": AutoETS(season_length=SEASON),
        "MSTL": MSTL(season_length=SEASON),
    }
    # numba compiles each model on its first call: compile on a small series first, so
    # that the CPU seconds are of forecasting, as a scheduled job would spend them
    warm = regular.iloc[: 8 * SEASON]
    StatsForecast(models=list(models.values()), freq="D").cross_validation(df=warm, h=HORIZON, n_windows=2, level=[LEVEL])
    results = {}
    for name, model in models.items():
        cpu, wall = cpu_seconds(), time.perf_counter()
        # AutoETS divides by zero degrees of freedom on the shortest histories (and then
        # picks another model): numpy's warnings, not errors
        with np.errstate(divide="ignore", invalid="ignore"):
            cv = StatsForecast(models=[model], freq="D", n_jobs=1).cross_validation(
                df=regular, h=HORIZON, step_size=1, n_windows=windows, level=[LEVEL]
            )
        cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
        frame = cv.rename(columns={name: "yhat", f"{name}-lo-{LEVEL}": "lo", f"{name}-hi-{LEVEL}": "hi"})
        results[name] = (frame[["cutoff", "ds", "yhat", "lo", "hi"]], cpu, wall)
    return results


def prophet_forecasts(series: pd.DataFrame, origins: pd.DatetimeIndex) -> tuple[pd.DataFrame, float, float] | None:
    """Prophet's forecasts from every origin, refitted on the complete days up to it, or
    None when Prophet is not installed."""
    try:
        from prophet import Prophet
    except ImportError:
        return None
    # cmdstanpy sets its logger to INFO on first use (a line per fit): silence it outright
    logging.getLogger("cmdstanpy").disabled = True
    logging.getLogger("prophet").setLevel(logging.WARNING)
    frames = []
    cpu, wall = cpu_seconds(), time.perf_counter()
    for origin in origins:
        history = series[series["ds"] <= origin]
        model = Prophet(interval_width=LEVEL / 100)
        model.fit(history)
        future = pd.DataFrame({"ds": pd.date_range(origin + pd.Timedelta(days=1), periods=HORIZON, freq="D")})
        forecast = model.predict(future)
        frames.append(
            pd.DataFrame(
                {
                    "cutoff": origin,
                    "ds": forecast["ds"],
                    "yhat": forecast["yhat"],
                    "lo": forecast["yhat_lower"],
                    "hi": forecast["yhat_upper"],
                }
            )
        )
    return pd.concat(frames, ignore_index=True), cpu_seconds() - cpu, time.perf_counter() - wall


def score(forecasts: pd.DataFrame, scored: pd.DataFrame, last_period_from: pd.Timestamp) -> dict:
    """MAE per horizon, coverage and mean width of the 95% interval, and the MAE over the
    last backtest period, on the scored rows only. Raises ValueError when a scored row has
    no forecast (the reference must be scored on every error the project is)."""
    joined = scored.merge(forecasts, left_on=["origin_date", "forecast_date"], right_on=["cutoff", "ds"], how="left")
    missing = joined["yhat"].isna().sum()
    if missing:
        raise ValueError(f"{missing} scored rows have no reference forecast")
    joined["abs_error"] = (joined["actual_kwh"] - joined["yhat"]).abs()
    joined["inside"] = (joined["actual_kwh"] >= joined["lo"]) & (joined["actual_kwh"] <= joined["hi"])
    joined["width"] = joined["hi"] - joined["lo"]
    horizons = []
    for horizon, rows in joined.groupby("horizon_days"):
        banded = rows[rows["period"] > 0]
        horizons.append(
            {
                "horizon_days": int(horizon),
                "n": len(rows),
                "mae": float(rows["abs_error"].mean()),
                "coverage": float(banded["inside"].mean()) if len(banded) else None,
                "coverage_n": len(banded),
                "band_width_kwh": float(banded["width"].mean()) if len(banded) else None,
            }
        )
    last = joined[joined["forecast_date"] >= last_period_from]
    positive = joined[joined["actual_kwh"] > 0]
    return {
        "horizons": horizons,
        "periods": {int(period): float(rows["abs_error"].mean()) for period, rows in joined.groupby("period")},
        "mae": float(np.mean([h["mae"] for h in horizons])),
        "mape": float(100 * (positive["abs_error"] / positive["actual_kwh"]).mean()),
        "last_period_mae": float(last["abs_error"].mean()),
    }


def main(input_dir: Path, output: Path) -> None:
    series = pd.read_csv(input_dir / "series.csv", parse_dates=["reading_date"]).rename(columns={"reading_date": "ds", "total_kwh": "y"})
    scored = pd.read_csv(input_dir / "scored.csv", parse_dates=["origin_date", "forecast_date"])
    last_period_from = pd.Timestamp(json.loads((input_dir / "meta.json").read_text())["last_period_from"])
    origins = pd.DatetimeIndex(sorted(scored["origin_date"].unique()))
    results = {}
    for name, (forecasts, cpu, wall) in statsforecast_forecasts(series, origins).items():
        results[name] = score(forecasts, scored, last_period_from) | {"cpu_s": round(cpu, 2), "wall_s": round(wall, 2)}
        print(f"{name}: MAE {results[name]['mae']:.3f}, {cpu:.1f} CPU s", file=sys.stderr)
    prophet = prophet_forecasts(series, origins)
    if prophet is not None:
        forecasts, cpu, wall = prophet
        results["Prophet"] = score(forecasts, scored, last_period_from) | {"cpu_s": round(cpu, 2), "wall_s": round(wall, 2)}
        print(f"Prophet: MAE {results['Prophet']['mae']:.3f}, {cpu:.1f} CPU s", file=sys.stderr)
    output.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    warnings.filterwarnings("ignore", category=FutureWarning)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
