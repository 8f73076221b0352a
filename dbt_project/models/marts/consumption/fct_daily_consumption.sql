{{ config(materialized='view') }}
{#- Energy per meter and local day: the days int_readings_aggregated_to_days computes,
    under the name analysts query. A view: the days are stored (and tested) once. Its
    columns are named, so a column added to the computation is added here on purpose. -#}
with days as (

    select * from {{ ref('int_readings_aggregated_to_days') }}

)

select
    meter_id,
    reading_date,
    timezone,
    total_kwh,
    export_kwh,
    net_kwh,
    reading_count,
    export_reading_count,
    estimated_reading_count,
    estimated_share,
    export_estimated_reading_count,
    expected_reading_count,
    completeness,
    is_complete,
    day_minutes,
    interval_minutes,
    peak_kwh,
    peak_kw,
    peak_interval_start,
    last_ingested_at,
    dbt_loaded_at
from days
