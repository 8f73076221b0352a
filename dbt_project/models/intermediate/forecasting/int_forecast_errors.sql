{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ energy.delete_from_first_changed_day('origin_day', 'origin_date', var('forecast_horizon_days')) }}",
        on_schema_change='fail',
        partitioned_by=energy.monthly_partitions('origin_date', ['calibration_phase']),
        properties=energy.monthly_partition_properties('origin_date', ['calibration_phase']),
    )
}}
{#- The backtest's errors: every method's forecast from every origin with at least
    var forecast_min_history_days days of history, against the actual complete day.

    Incremental: the errors of origins from var forecast_horizon_days days before the
    first new or changed daily total are computed again (their actual or their origin
    changed), replacing every stored error from there (a pre-hook deletes them, so the
    errors of a day a later upload made incomplete go too); the rest stay.

    Partitioned by month of origin and by the meter's calibration phase: the daily
    build's recalibration (int_forecast_bands, fct_forecast_accuracy) reads one phase's
    meters' errors, not every meter's. The phase is the meter's, from
    int_forecast_calibration, which computes it once per meter. -#}
{%- set first_new_day = energy.first_changed_daily_total() -%}
with points as (

    select * from {{ ref('int_forecast_points') }}
    where lookback_days >= {{ var('forecast_min_history_days') }}
    {%- if is_incremental() %}
        -- the same bound on the partition column too: the engines open only its months
        and {{ energy.incremental_window(first_new_day, var('forecast_horizon_days'), day_column='origin_day', date_column='origin_date') }}
    {%- endif %}

),

actuals as (

    select meter_id, flow, reading_date, total_kwh
    from {{ ref('int_daily_series') }}
    {%- if is_incremental() %}
    -- the actuals of the forecast days of those origins: from the day after the first
    where {{ energy.incremental_window(first_new_day, var('forecast_horizon_days') - 1, day_column='day_number') }}
    {%- endif %}

),

calibration as (

    select meter_id, flow, calibration_phase from {{ ref('int_forecast_calibration') }}

)

select
    points.meter_id,
    points.flow,
    calibration.calibration_phase,
    points.method,
    points.horizon_days,
    points.origin_date,
    points.origin_day,
    points.forecast_date,
    points.forecast_kwh,
    points.ma_stddev,
    actuals.total_kwh as actual_kwh,
    actuals.total_kwh - points.forecast_kwh as error_kwh,
    {{ energy.build_started_at() }} as dbt_loaded_at
from points
inner join actuals
    on actuals.meter_id = points.meter_id
    and actuals.flow = points.flow
    and actuals.reading_date = points.forecast_date
inner join calibration
    on calibration.meter_id = points.meter_id
    and calibration.flow = points.flow
