{#- Every reading scored against its meter's own history in the same local time-of-day
    slot (see macros/anomaly.sql for the window and method vars). With the default
    trailing window the baseline ends the day before the reading: neither the reading
    itself nor anything later is in it, so a flag never changes once raised. -#}
with readings as (

    select
        meter_id,
        reading_start,
        reading_date,
        slot_minute,
        day_number as day_key,
        kwh as value
    from {{ ref('int_readings_local') }}

),

{{ energy.baseline_ctes('readings', ['meter_id', 'slot_minute'], 'meter_id, reading_start, reading_date, slot_minute', var('anomaly_baseline_days')) }},

scored as (

    select
        *,
        {{ energy.z_score('value') }} as z_score
    from baselines

)

select
    meter_id,
    reading_start,
    reading_date,
    slot_minute,
    value as kwh,
    baseline_mean,
    baseline_stddev,
    baseline_n,
    z_score,
    {{ energy.is_anomaly('z_score') }} as is_anomaly,
    {{ energy.direction('z_score') }} as direction
from scored
