{#- Per meter, method and horizon: the error quantiles that make a forecast's band
    (var forecast_interval_level, default 95%), from all backtest errors and from the
    calibration half alone (used to score coverage on the evaluation half). -#}
{%- set low = (1 - var('forecast_interval_level')) / 2 -%}
{%- set high = 1 - low -%}
with errors as (

    select * from {{ ref('int_forecast_backtest') }}

),

both_sets as (

    select meter_id, method, horizon_days, error_kwh, 'all' as error_set from errors
    union all
    select meter_id, method, horizon_days, error_kwh, 'calibration' as error_set from errors where fold = 'calibration'

),

ranked as (

    select
        *,
        row_number() over (partition by meter_id, method, horizon_days, error_set order by error_kwh) - 1 as rank0,
        count(*) over (partition by meter_id, method, horizon_days, error_set) as group_size
    from both_sets

)

select
    meter_id,
    method,
    horizon_days,
    error_set,
    count(*) as errors,
    {{ energy.quantile_from_ranks('error_kwh', low) }} as error_low_kwh,
    {{ energy.quantile_from_ranks('error_kwh', high) }} as error_high_kwh
from ranked
group by meter_id, method, horizon_days, error_set
