{{
    config(
        materialized='incremental',
        unique_key=['meter_id', 'flow', 'reading_date'],
        on_schema_change='fail',
    )
}}
{#- The scored readings (int_readings_scored, public as fct_reading_anomalies) counted per meter, flow and local day: how many readings were
    scored and how many flagged, high and low. rpt_summary's anomaly counts come from
    here: a day per row, where counting the reading-grain table read the whole history
    on every build.

    Incremental: the days from the first local day of the readings staged since this
    table last took rows in (from the day new data can reach, for a centered window) are
    counted again from int_readings_scored, which rescored exactly those; dbt_loaded_at
    is the newest staging mark among a day's readings, as in int_readings_scored. -#}
{%- set reach = (var('anomaly_baseline_days') // 2) if var('anomaly_window') == 'centered' else 0 -%}
{%- set first_new_day = energy.first_new_day(ref('int_readings_local')) -%}
with scored as (

    select meter_id, flow, reading_date, z_score, is_anomaly, direction, dbt_loaded_at
    from {{ ref('int_readings_scored') }}
    {%- if is_incremental() %}
    where {{ energy.incremental_window(first_new_day, reach, date_column='reading_date', utc_start_column='reading_start') }}
    {%- endif %}

)

select
    meter_id,
    flow,
    reading_date,
    count(z_score) as scored_reading_count,
    count(case when is_anomaly then 1 end) as anomaly_count,
    count(case when is_anomaly and direction = 'high' then 1 end) as high_anomaly_count,
    count(case when is_anomaly and direction = 'low' then 1 end) as low_anomaly_count,
    max(dbt_loaded_at) as dbt_loaded_at
from scored
group by meter_id, flow, reading_date
