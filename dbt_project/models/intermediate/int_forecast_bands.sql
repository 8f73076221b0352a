{{ config(materialized='table') }}
{#- Per meter, method and horizon: the error quantiles that make a forecast's band
    (var forecast_interval_level, default 95%): from the errors of the last
    var forecast_band_days of origins (error_set = live, for fct_forecast), and from each
    backtest period (error_set = period, scored against the next period's actuals). -#}
{%- set low = (1 - var('forecast_interval_level')) / 2 -%}
{%- set high = 1 - low -%}
with errors as (

    select * from {{ ref('int_forecast_backtest') }}

),

both_sets as (

    select meter_id, method, horizon_days, error_kwh, 'live' as error_set, -1 as period
    from errors
    where in_live_window
    union all
    select meter_id, method, horizon_days, error_kwh, 'period' as error_set, period
    from errors

),

ranked as (

    {{ energy.rank_for_quantiles('both_sets', 'meter_id, method, horizon_days, error_set, period', 'error_kwh') }}

)

select
    meter_id,
    method,
    horizon_days,
    error_set,
    period,
    count(*) as errors,
    {{ energy.exact_quantile('error_kwh', low) }} as error_low_kwh,
    {{ energy.exact_quantile('error_kwh', high) }} as error_high_kwh
from ranked
group by meter_id, method, horizon_days, error_set, period
