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
{%- set first_new_day = energy.first_new_day(ref('int_readings_local')) -%}
with readings as (

    select * from {{ ref('int_readings_local') }}
    {%- if is_incremental() %}
    -- the literal bound lets the engine skip older data without reading it
    where {{ energy.from_local_day(first_new_day) }}
    {%- endif %}

),
{% if is_incremental() %}
touched_days as (

    select distinct meter_id, reading_date
    from readings
    where {{ energy.loaded_since_this() }}

),

touched_readings as (

    select readings.*
    from readings
    inner join touched_days
        on touched_days.meter_id = readings.meter_id
        and touched_days.reading_date = readings.reading_date

),
{% endif %}

daily as (

    select
        meter_id,
        reading_date,
        max(timezone) as timezone,
        sum(kwh) as total_kwh,
        count(*) as reading_count,
        min(interval_minutes) as interval_minutes,
        sum(interval_minutes) as covered_minutes,
        max(kwh) as peak_kwh,
        -- the earliest interval of the day's largest reading (a sort per day would cost
        -- a window over every reading)
        min_by(reading_start, row(-kwh, reading_start)) as peak_interval_start,
        max(ingested_at) as last_ingested_at,
        max(dbt_loaded_at) as dbt_loaded_at
    from {{ 'touched_readings' if is_incremental() else 'readings' }}
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
