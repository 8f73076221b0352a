{{ config(materialized='view') }}
{#- Every reading with its baseline, z-score and flag: the rows int_readings_scored
    computes, under the name analysts query. A view: the 35 million rows of a year of
    1,000 meters are stored (and tested) once. Its columns are named, so a column added
    to the computation is added here on purpose. -#}
with scored as (

    select * from {{ ref('int_readings_scored') }}

)

select
    meter_id,
    flow,
    reading_start,
    reading_date,
    slot_minute,
    kwh,
    quality,
    baseline_center,
    baseline_scale,
    baseline_reading_count,
    z_score,
    is_anomaly,
    direction,
    ingested_at,
    dbt_loaded_at,
    -- the names of the release before, kept for one release (README, "Renamed tables and columns"):
    -- view columns only, never stored twice
    baseline_center as baseline_mean,
    baseline_scale as baseline_stddev,
    baseline_reading_count as baseline_n
from scored
