{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ energy.delete_from_first_changed_day('origin_day', 'origin_date') }}",
        on_schema_change='fail',
        partitioned_by=energy.monthly_partitions('origin_date'),
        properties=energy.monthly_partition_properties('origin_date'),
    )
}}
{#- For every meter and flow and every complete day T (a forecast origin), what each method
    knows at the end of T: only days up to T are used. The live forecast starts at the
    last complete day; the backtest starts at every earlier one.

    Incremental: origins from the first day whose total is new or changed (complete or
    not) are computed again (an origin's history is the days before it), from one
    lookback of history, and replace every stored origin from that day (a pre-hook
    deletes them, so the origin of a day a later upload made incomplete goes too). -#}
{%- set lookback = [var('forecast_history_days'), var('forecast_ewma_days'), 7 * var('forecast_weekday_profile_weeks')] | max -%}
{%- set first_new_day = energy.first_changed_daily_total() %}
with series as (

    select * from {{ ref('int_daily_series') }}
    {%- if is_incremental() %}
    where {{ energy.incremental_window(first_new_day, lookback - 1, day_column='day_number') }}
    {%- endif %}

),

lookback as (

    select
        origin.meter_id,
        origin.flow,
        origin.reading_date as origin_date,
        origin.day_number as origin_day,
        history.day_of_week,
        history.total_kwh,
        origin.day_number - history.day_number as days_back
    from series as origin
    inner join series as history
        on history.meter_id = origin.meter_id
        and history.flow = origin.flow
        and history.day_number between origin.day_number - {{ lookback - 1 }} and origin.day_number
    {%- if is_incremental() %}
    where {{ energy.incremental_window(first_new_day, day_column='day_number', relation='origin') }}
    {%- endif %}

),

weighted as (

    select
        *,
        power(1.0 - {{ var('forecast_ewma_alpha') }}, days_back) as ewma_weight
    from lookback

)

select
    meter_id,
    flow,
    origin_date,
    origin_day,
    count(*) as lookback_days,
    -- moving average: the last var forecast_history_days days
    avg(case when days_back < {{ var('forecast_history_days') }} then total_kwh end) as ma_mean,
    stddev_samp(case when days_back < {{ var('forecast_history_days') }} then total_kwh end) as ma_stddev,
    count(case when days_back < {{ var('forecast_history_days') }} then 1 end) as ma_days,
    -- exponentially weighted average over the last var forecast_ewma_days days
    sum(case when days_back < {{ var('forecast_ewma_days') }} then ewma_weight * total_kwh end)
    / sum(case when days_back < {{ var('forecast_ewma_days') }} then ewma_weight end) as ewma,
    -- the same smoothing per weekday, for the deseasonalised method (int_forecast_points
    -- divides each weekday's sum by its factor: sum(w x / f) = sum over weekdays of sum(w x) / f)
    {%- for dow in range(1, 8) %}
    sum(case when days_back < {{ var('forecast_ewma_days') }} and day_of_week = {{ dow }} then ewma_weight * total_kwh end) as ewma_sum_{{ dow }},
    sum(case when days_back < {{ var('forecast_ewma_days') }} and day_of_week = {{ dow }} then ewma_weight end) as ewma_weight_{{ dow }},
    {%- endfor %}
    -- weekday profile: mean of each weekday over the last weeks, against their overall mean
    avg(case when days_back < {{ 7 * var('forecast_weekday_profile_weeks') }} then total_kwh end) as profile_mean,
    {%- for dow in range(1, 8) %}
    avg(case when days_back < {{ 7 * var('forecast_weekday_profile_weeks') }} and day_of_week = {{ dow }} then total_kwh end) as weekday_mean_{{ dow }},
    {%- endfor %}
    -- seasonal naive: the last week's value of each weekday
    {%- for dow in range(1, 8) %}
    max(case when days_back < 7 and day_of_week = {{ dow }} then total_kwh end) as last_week_{{ dow }},
    {%- endfor %}
    {{ energy.build_started_at() }} as dbt_loaded_at
from weighted
group by meter_id, flow, origin_date, origin_day
