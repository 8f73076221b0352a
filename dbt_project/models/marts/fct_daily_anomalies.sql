{#- Z-score of each complete day's total against the meter's complete days in the
    trailing window before it (never the day itself or later days). Incomplete days
    are listed but neither scored nor used as baseline: a half-day is not a low day. -#}
with days as (

    select
        meter_id,
        reading_date,
        total_kwh,
        is_complete,
        {{ energy.day_number('reading_date') }} as day_number
    from {{ ref('fct_daily_consumption') }}

),

complete_days as (

    select
        meter_id,
        reading_date,
        avg(total_kwh) over prior_days as baseline_mean,
        stddev_samp(total_kwh) over prior_days as baseline_stddev,
        count(total_kwh) over prior_days as baseline_n
    from days
    where is_complete
    window prior_days as (
        partition by meter_id
        order by day_number
        range between {{ var('anomaly_baseline_days') }} preceding and 1 preceding
    )

),

scored as (

    select
        days.meter_id,
        days.reading_date,
        days.total_kwh,
        days.is_complete,
        complete_days.baseline_mean,
        complete_days.baseline_stddev,
        cast(coalesce(complete_days.baseline_n, 0) as integer) as baseline_n,
        case
            when complete_days.baseline_n >= {{ var('anomaly_min_baseline') }}
                and complete_days.baseline_stddev > 0
                then (days.total_kwh - complete_days.baseline_mean) / complete_days.baseline_stddev
        end as z_score
    from days
    left join complete_days
        on days.meter_id = complete_days.meter_id
        and days.reading_date = complete_days.reading_date

)

select
    meter_id,
    reading_date,
    total_kwh,
    is_complete,
    baseline_mean,
    baseline_stddev,
    baseline_n,
    z_score,
    {{ energy.is_anomaly('z_score') }} as is_anomaly,
    case when {{ energy.is_anomaly('z_score') }} then (case when z_score > 0 then 'high' else 'low' end) end as direction
from scored
