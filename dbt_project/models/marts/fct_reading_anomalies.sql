{#- Z-score of every reading against the same meter's same time-of-day slot over the
    trailing days before it. The frame ends the day before the reading, so neither the
    reading itself nor anything later is in its baseline, and a flag never changes
    once raised. -#}
with readings as (

    select * from {{ ref('int_readings_local') }}

),

baselines as (

    select
        meter_id,
        reading_start,
        reading_date,
        slot_minute,
        kwh,
        avg(kwh) over prior_days as baseline_mean,
        stddev_samp(kwh) over prior_days as baseline_stddev,
        count(kwh) over prior_days as baseline_n
    from readings
    window prior_days as (
        partition by meter_id, slot_minute
        order by day_number
        range between {{ var('anomaly_baseline_days') }} preceding and 1 preceding
    )

),

scored as (

    select
        *,
        case
            when baseline_n >= {{ var('anomaly_min_baseline') }} and baseline_stddev > 0
                then (kwh - baseline_mean) / baseline_stddev
        end as z_score
    from baselines

)

select
    meter_id,
    reading_start,
    reading_date,
    slot_minute,
    kwh,
    baseline_mean,
    baseline_stddev,
    cast(baseline_n as integer) as baseline_n,
    z_score,
    {{ energy.is_anomaly('z_score') }} as is_anomaly,
    case when {{ energy.is_anomaly('z_score') }} then (case when z_score > 0 then 'high' else 'low' end) end as direction
from scored
