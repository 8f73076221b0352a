{{ config(materialized='table') }}
{#- Per meter and flow: the day its forecast bands and accuracy are calibrated up to. Only the
    backtest errors of forecast days before calibrated_before count. It is the first
    day of the var forecast_calibration_days block that holds the day after the
    meter's last complete day, so it moves once a block: the bands and the accuracy
    stay fixed in between, and an incremental build recomputes them only for the meters
    whose block moved or whose history before it changed. At 1 they take in every
    complete day, on every build. Blocks start on Mondays (at 7) shifted by the meter's
    calibration_phase days (energy.calibration_phase): staggered, so each day's build
    calibrates the meters of one phase, and no build all of them.

    A table (one row per meter and flow), not a view: the bands, the accuracy, the live
    forecast and the data tests each look it up on every build, and as a view each
    lookup read every origin. -#}
{%- set block = var('forecast_calibration_days') | int -%}
{%- if block < 1 -%}
    {{ exceptions.raise_compiler_error("var forecast_calibration_days must be a whole number of days, 1 or more; got " ~ var('forecast_calibration_days')) }}
{%- endif -%}
-- every complete day is a forecast origin (int_forecast_origins), so the last origin is
-- the last complete day: read from the daily totals, a fraction of the origins' bytes
with series as (

    select * from {{ ref('int_daily_series') }}

),

last_origins as (

    select meter_id, flow, max(day_number) as last_origin_day, max(reading_date) as last_origin_date
    from series
    group by meter_id, flow

),

next_days as (

    select
        meter_id,
        flow,
        last_origin_day,
        last_origin_date,
        last_origin_day + 1 as next_day,
        {{ energy.calibration_phase('meter_id') }} as calibration_phase
    from last_origins

),

blocks as (

    -- day 4 (1970-01-05) is a Monday; the day numbers of every real reading are above it
    select
        meter_id,
        flow,
        calibration_phase,
        last_origin_day,
        last_origin_date,
        next_day - ((next_day - 4 - calibration_phase) % {{ block }}) as calibrated_before_day
    from next_days

)

select
    meter_id,
    flow,
    calibration_phase,
    last_origin_day,
    last_origin_date,
    calibrated_before_day,
    {{ energy.add_days("date '1970-01-01'", 'calibrated_before_day') }} as calibrated_before
from blocks
