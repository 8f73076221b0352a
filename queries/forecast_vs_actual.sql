-- Forecast against actual: how each method did per meter and horizon in the backtest.
select
    meter_id,
    method,
    horizon_days,
    n,
    round(mae, 3) as mae_kwh,
    round(mape, 1) as mape_pct,
    round(mase, 3) as mase,
    round(band_coverage, 3) as band_coverage
from fct_forecast_accuracy
order by meter_id, horizon_days, mae;
