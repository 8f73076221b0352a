{{ config(materialized='table') }}
{#- Rolling-origin backtest: every method's forecast from every origin with at least
    var forecast_min_history_days days of history, against the actual complete day.
    Origins are cut into consecutive periods (var forecast_band_days long, or half the
    meter's backtest span when that is shorter): each period's coverage is scored with
    bands calibrated on the period before it only, an honest out-of-sample measure. -#}
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

),

origin_days as (

    select *, {{ energy.day_number('origin_date') }} as origin_day
    from errors

),

-- each meter's backtest span, by aggregate: a window over every error would sort them all
spans as (

    select meter_id, min(origin_day) as first_origin_day, max(origin_day) as last_origin_day
    from origin_days
    group by meter_id

),

with_spans as (

    select origin_days.*, spans.first_origin_day, spans.last_origin_day
    from origin_days
    inner join spans on spans.meter_id = origin_days.meter_id

)

select
    meter_id,
    method,
    horizon_days,
    origin_date,
    forecast_date,
    forecast_kwh,
    ma_stddev,
    actual_kwh,
    error_kwh,
    cast(floor(
        (origin_day - first_origin_day)
        / least({{ var('forecast_band_days') }}.0, greatest(1.0, floor({{ energy.fdiv('last_origin_day - first_origin_day + 2', 2) }})))
    ) as integer) as period,
    last_origin_day - origin_day < {{ var('forecast_band_days') }} as in_live_window
from with_spans
