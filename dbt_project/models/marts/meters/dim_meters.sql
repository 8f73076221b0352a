{{ config(materialized='table') }}
{#- Every meter the warehouse knows: each meter with readings, and each meter the meters
    seed describes (with or without readings yet), with its site, description, zone and
    the span of local days the lake holds for it. The facts' meter_id columns are tested
    against it (relationships). A table rebuilt on every build from one row per meter
    (int_days_aggregated_to_meters) and the seed: it reads no readings. -#}
with seen as (

    select * from {{ ref('int_days_aggregated_to_meters') }}

),

described as (

    select * from {{ ref('stg_meters') }}

)

select
    coalesce(seen.meter_id, described.meter_id) as meter_id,
    described.site,
    described.description,
    -- the meters seed overrides the zone the ingest recorded, as in int_readings_local
    coalesce(described.timezone, seen.timezone) as timezone,
    seen.first_day,
    seen.last_day,
    seen.meter_id is not null as has_readings
from seen
full outer join described
    on described.meter_id = seen.meter_id
