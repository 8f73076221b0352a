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
    it changed, are computed again (energy.recalibrating_meters): each day, the meters
    of one calibration phase. -#}
{%- set low = (1 - var('forecast_interval_level')) / 2 -%}
{%- set high = 1 - low -%}
{%- set recalibrating = energy.recalibrating_meters(ref('int_forecast_calibration'), ref('int_daily_flows')) -%}
with errors as (

    select * from {{ ref('int_forecast_backtest') }}
    where {{ energy.meter_filter('meter_id', recalibrating, 'calibration_phase') }}

),

-- every error in its period's set, and those of the live window in the live set too:
-- one read of the errors (a union of two selects read them twice on Trino and Athena)
both_sets as (

    select
        errors.meter_id,
        errors.flow,
        errors.method,
        errors.horizon_days,
        errors.calibrated_before,
        errors.error_kwh,
        error_sets.error_set,
        case when error_sets.error_set = 'live' then -1 else errors.period end as period
    from errors
    cross join (values ('live'), ('period')) as error_sets (error_set)
    where error_sets.error_set = 'period' or errors.in_live_window

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
