{{
    config(
        materialized='incremental',
        unique_key=['meter_id'],
        on_schema_change='fail',
    )
}}
{#- One row per meter that has readings: the first and last local day the lake holds
    readings for (any flow or quality) and the zone of its last day. dim_meters adds the
    meters seed to it.

    Incremental: only the meters with days (re)computed since this table last took rows
    in, each merged with its row here (the earlier first day, the later last day), so a
    daily build reads the new days and one row per meter, not the history. -#}
{%- set first_new_day = energy.first_new_day(ref('int_readings_aggregated_to_days'), energy.day_number('reading_date')) -%}
with days as (

    select meter_id, reading_date, timezone, dbt_loaded_at
    from {{ ref('int_readings_aggregated_to_days') }}
    {%- if is_incremental() %}
    -- the literal bound lets the engine skip older days without reading them
    where {{ energy.incremental_window(first_new_day, date_column='reading_date') }}
        and {{ energy.loaded_since_this() }}
    {%- endif %}

),

new_days_per_meter as (

    select
        meter_id,
        min(reading_date) as first_day,
        max(reading_date) as last_day,
        max_by(timezone, reading_date) as timezone,
        max(dbt_loaded_at) as dbt_loaded_at
    from days
    group by meter_id

){% if is_incremental() %},

merged as (

    select
        new_days_per_meter.meter_id,
        case
            when known.first_day < new_days_per_meter.first_day then known.first_day
            else new_days_per_meter.first_day
        end as first_day,
        case
            when known.last_day > new_days_per_meter.last_day then known.last_day
            else new_days_per_meter.last_day
        end as last_day,
        case
            when known.last_day > new_days_per_meter.last_day then known.timezone
            else new_days_per_meter.timezone
        end as timezone,
        new_days_per_meter.dbt_loaded_at
    from new_days_per_meter
    left join {{ this }} as known
        on known.meter_id = new_days_per_meter.meter_id

){% endif %}

select
    meter_id,
    first_day,
    last_day,
    timezone,
    dbt_loaded_at
from {{ 'merged' if is_incremental() else 'new_days_per_meter' }}
