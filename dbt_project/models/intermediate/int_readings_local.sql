{#- Readings placed on their meter's local clock: local day, time-of-day slot and an
    integer day number for day-based window frames. -#}
with readings as (

    select * from {{ ref('stg_readings') }}

),

localised as (

    select
        *,
        {{ energy.to_local_timestamp('reading_start', 'timezone') }} as local_start
    from readings

)

select
    meter_id,
    reading_start,
    interval_minutes,
    kwh,
    timezone,
    source_key,
    local_start,
    cast(local_start as date) as reading_date,
    {{ energy.minute_of_day('local_start') }} as slot_minute,
    {{ energy.day_number('cast(local_start as date)') }} as day_number
from localised
