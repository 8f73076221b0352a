{#- One row per meter and interval: when several uploads carry the same meter and
    interval, the latest upload wins (a corrected re-upload supersedes). -#}
with lake_readings as (

    select * from {{ source('lake', 'readings') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by meter_id, reading_start
            order by ingested_at desc, ingest_id desc
        ) as version_rank
    from lake_readings

)

select
    meter_id,
    cast(reading_start as timestamp(3)) as reading_start,
    cast(interval_minutes as integer) as interval_minutes,
    cast(kwh as double) as kwh,
    timezone,
    source_key,
    ingest_id,
    cast(ingested_at as timestamp(3)) as ingested_at
from ranked
where version_rank = 1
