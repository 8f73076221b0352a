{{
    config(
        materialized='incremental',
        unique_key=['meter_id', 'reading_start'],
        on_schema_change='fail',
        partitioned_by=energy.reading_partitions(),
    )
}}
{#- Readings placed on their meter's local clock (the zone from the meters seed, else
    the one the ingest recorded): local day, time-of-day slot and an
    integer day number for day-based window frames. Materialized (incremental) so the
    zone arithmetic runs once per reading; a change of a meter's zone in the seed needs
    --full-refresh. -#}
with readings as (

    select * from {{ ref('stg_readings') }}
    {% if is_incremental() -%}
    -- only what staging wrote since the run this table last took in
    where dbt_loaded_at > (select max(dbt_loaded_at) from {{ this }})
    {%- endif %}

),

meters as (

    select * from {{ ref('stg_meters') }}

),

zoned as (

    select
        readings.meter_id,
        readings.reading_start,
        readings.interval_minutes,
        readings.kwh,
        -- the meters seed overrides the zone the ingest recorded
        coalesce(meters.timezone, readings.timezone) as timezone,
        readings.source_key,
        readings.ingested_at,
        readings.dbt_loaded_at
    from readings
    left join meters on readings.meter_id = meters.meter_id

),

localised as (

    select
        *,
        {{ energy.to_local_timestamp('reading_start', 'timezone') }} as local_start
    from zoned

)

select
    meter_id,
    reading_start,
    interval_minutes,
    kwh,
    timezone,
    source_key,
    ingested_at,
    dbt_loaded_at,
    local_start,
    cast(local_start as date) as reading_date,
    {{ energy.minute_of_day('local_start') }} as slot_minute,
    {{ energy.day_number('cast(local_start as date)') }} as day_number
from localised
