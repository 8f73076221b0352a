{{ config(materialized='view') }}
{#- Deprecated, removed in the next release: stg_lake__readings under its name of the
    release before (README, "Renamed tables and columns"). A view, so nothing is stored
    or computed twice. -#}
with readings as (

    select * from {{ ref('stg_lake__readings') }}

)

select
    meter_id,
    flow,
    reading_start,
    interval_minutes,
    kwh,
    timezone,
    quality,
    quality_code,
    source_key,
    ingest_id,
    ingested_at,
    dbt_loaded_at
from readings
