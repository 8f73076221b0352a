{{ config(materialized='table') }}
{#- Rolling-origin backtest: every method's forecast from every origin with at least
    var forecast_min_history_days days of history, against the actual complete day.
    Origins are split in time: the older half calibrates the bands, the newer half
    measures how often the bands hold the actual (an honest coverage). -#}
with points as (

    select * from {{ ref('int_forecast_points') }}
    where lookback_days >= {{ var('forecast_min_history_days') }}

),

actuals as (

    select meter_id, reading_date, total_kwh from {{ ref('int_daily_series') }}

),

errors as (

    select
        points.meter_id,
        points.method,
        points.horizon_days,
        points.origin_date,
        points.forecast_date,
        points.forecast_kwh,
        points.ma_stddev,
        actuals.total_kwh as actual_kwh,
        actuals.total_kwh - points.forecast_kwh as error_kwh
    from points
    inner join actuals
        on actuals.meter_id = points.meter_id
        and actuals.reading_date = points.forecast_date

)

select
    *,
    case
        when row_number() over (partition by meter_id, method, horizon_days order by origin_date)
            <= count(*) over (partition by meter_id, method, horizon_days) / 2
            then 'calibration'
        else 'evaluation'
    end as fold
from errors
