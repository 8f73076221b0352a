{{
    config(
        materialized='incremental',
        unique_key=['meter_id', 'reading_date'],
        on_schema_change='fail',
    )
}}
{#- Energy per meter and local day, with how complete the day's readings are.
    Incremental: only the days that received readings since the last build are
    recomputed (from all of their readings). -#}
with readings as (

    select * from {{ ref('int_readings_local') }}

),
{% if is_incremental() %}
touched_days as (

    select distinct meter_id, reading_date
    from readings
    where dbt_loaded_at > (select max(dbt_loaded_at) from {{ this }})

),

recent_readings as (

    select *
    from readings
    where reading_date >= (select min(reading_date) from touched_days)

),

touched_readings as (

    select recent_readings.*
    from recent_readings
    inner join touched_days
        on touched_days.meter_id = recent_readings.meter_id
        and touched_days.reading_date = recent_readings.reading_date

),
{% endif %}

ranked as (

    select
        *,
        row_number() over (
            partition by meter_id, reading_date
            order by kwh desc, reading_start
        ) as peak_rank
    from {{ 'touched_readings' if is_incremental() else 'readings' }}

),

daily as (

    select
        meter_id,
        reading_date,
        max(timezone) as timezone,
        sum(kwh) as total_kwh,
        count(*) as reading_count,
        min(interval_minutes) as interval_minutes,
        sum(interval_minutes) as covered_minutes,
        max(case when peak_rank = 1 then kwh end) as peak_kwh,
        max(case when peak_rank = 1 then reading_start end) as peak_interval_start,
        max(ingested_at) as last_ingested_at,
        max(dbt_loaded_at) as dbt_loaded_at
    from ranked
    group by meter_id, reading_date

),

with_day_length as (

    select
        *,
        {{ energy.local_day_minutes('reading_date', 'timezone') }} as day_minutes
    from daily

)

select
    meter_id,
    reading_date,
    timezone,
    total_kwh,
    reading_count,
    cast(day_minutes / interval_minutes as integer) as expected_reading_count,
    least({{ energy.fdiv('covered_minutes', 'day_minutes') }}, 1.0) as completeness,
    {{ energy.fdiv('covered_minutes', 'day_minutes') }} >= {{ var('complete_day_share') }} as is_complete,
    day_minutes,
    interval_minutes,
    peak_kwh,
    peak_interval_start,
    last_ingested_at,
    dbt_loaded_at
from with_day_length
