{{ config(materialized='view') }}
{#- Rolling-origin backtest: the errors (int_forecast_errors) of forecast days before the
    meter's calibration day (int_forecast_calibration), placed in time. Origins are
    cut into consecutive periods (var forecast_band_days long, or half the meter's
    backtest span when that is shorter): each period's coverage is scored with bands
    calibrated on the period before it only, an honest out-of-sample measure. A view:
    the periods and the live window move with each calibration day. -#}
with errors as (

    select * from {{ ref('int_forecast_errors') }}

),

calibration as (

    select * from {{ ref('int_forecast_calibration') }}

),

-- errors of later forecast days wait for the next calibration day
calibration_errors as (

    select errors.*, calibration.calibrated_before
    from errors
    inner join calibration
        on calibration.meter_id = errors.meter_id
        and calibration.flow = errors.flow
        and errors.origin_day + errors.horizon_days < calibration.calibrated_before_day

),

-- each meter's backtest span (energy.with_group_span: one read of the errors). The
-- calibration phase, one per meter, is in the grouping so that a filter on it reaches
-- the read of the errors (the engines push a filter through a window only on its keys)
with_spans as (

    {{ energy.with_group_span('calibration_errors', 'meter_id, flow, calibration_phase', 'origin_day', 'first_origin_day', 'last_origin_day') }}

)

select
    meter_id,
    flow,
    calibration_phase,
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
    last_origin_day - origin_day < {{ var('forecast_band_days') }} as in_live_window,
    calibrated_before
from with_spans
