{{
    config(
        materialized='incremental',
        unique_key=energy.recalibration_key(['meter_id', 'flow', 'method', 'horizon_days', 'error_set', 'period']),
        on_schema_change='fail',
    )
}}
{#- Per meter, method and horizon: the error quantiles that make a forecast's band
    (var forecast_interval_level, default 95%): from the errors of the last
    var forecast_band_days of origins (error_set = live, for fct_forecast), and from each
    backtest period (error_set = period, scored against the next period's actuals).

    Incremental: only the meters whose calibration day moved, or whose history before
    it changed, are computed again (energy.recalibrating_meters); on most days none. -#}
{%- set low = (1 - var('forecast_interval_level')) / 2 -%}
{%- set high = 1 - low -%}
{%- set recalibrating = energy.recalibrating_meters(ref('int_forecast_calibration'), ref('int_daily_series')) -%}
with errors as (

    select * from {{ ref('int_forecast_backtest') }}
    where {{ energy.meter_filter('meter_id', recalibrating) }}

),

both_sets as (

    select meter_id, flow, method, horizon_days, calibrated_before, error_kwh, 'live' as error_set, -1 as period
    from errors
    where in_live_window
    union all
    select meter_id, flow, method, horizon_days, calibrated_before, error_kwh, 'period' as error_set, period
    from errors

),

ranked as (

    {{ energy.rank_for_quantiles('both_sets', 'meter_id, flow, method, horizon_days, error_set, period', 'error_kwh') }}

)

select
    meter_id,
    flow,
    method,
    horizon_days,
    error_set,
    period,
    count(*) as errors,
    {{ energy.exact_quantile('error_kwh', low) }} as error_low_kwh,
    {{ energy.exact_quantile('error_kwh', high) }} as error_high_kwh,
    -- one per meter and flow
    max(calibrated_before) as calibrated_before,
    {{ energy.build_started_at() }} as dbt_loaded_at
from ranked
group by meter_id, flow, method, horizon_days, error_set, period
