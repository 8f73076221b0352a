{#- Each complete day's total, per meter and flow (import, and export for meters that
    feed in), scored against the same meter and flow's complete days in its baseline
    window (optionally only the same weekday: var anomaly_daily_same_weekday, then over
    the last var anomaly_same_weekday_weeks weeks). Incomplete days are listed but
    neither scored nor used as baseline: a half day is not a low day. A day with an
    estimated reading is not scored and not in any baseline either, unless var
    anomaly_include_estimated: an estimate is not a measurement of what happened. -#}
{%- set same_weekday = var('anomaly_daily_same_weekday') -%}
with days as (

    select
        meter_id,
        flow,
        reading_date,
        total_kwh,
        is_complete,
        estimated_reading_count > 0 as is_estimated,
        {{ energy.baseline_value('total_kwh', 'estimated_reading_count > 0') }} as scored_kwh,
        {{ energy.iso_day_of_week('reading_date') }} as day_of_week,
        {{ energy.day_number('reading_date') }} as day_number
    from {{ ref('int_daily_flows') }}

),

complete_days as (

    select
        meter_id,
        flow,
        reading_date,
        day_of_week,
        {%- if same_weekday %}
        -- whole weeks, so the window counts same weekdays, not days
        cast(floor(day_number / 7.0) as integer) as day_key,
        {%- else %}
        day_number as day_key,
        {%- endif %}
        scored_kwh as value
    from days
    where is_complete

),

-- the baseline of every complete day: CTEs ending in `baselines`, one row per day with
-- baseline_center, baseline_scale and baseline_count (macros/anomaly.sql)
{% if same_weekday -%}
{{ energy.baseline_ctes('complete_days', ['meter_id', 'flow', 'day_of_week'], 'meter_id, flow, reading_date', var('anomaly_same_weekday_weeks')) }},
{%- else -%}
{{ energy.baseline_ctes('complete_days', ['meter_id', 'flow'], 'meter_id, flow, reading_date', var('anomaly_baseline_days')) }},
{%- endif %}

scored as (

    select
        days.meter_id,
        days.flow,
        days.reading_date,
        days.total_kwh,
        days.is_complete,
        days.is_estimated,
        days.scored_kwh,
        baselines.baseline_center,
        baselines.baseline_scale,
        coalesce(baselines.baseline_count, 0) as baseline_count
    from days
    left join baselines
        on days.meter_id = baselines.meter_id
        and days.flow = baselines.flow
        and days.reading_date = baselines.reading_date

),

with_z as (

    select *, {{ energy.z_score('scored_kwh') }} as z_score
    from scored

)

select
    meter_id,
    flow,
    reading_date,
    total_kwh,
    is_complete,
    is_estimated,
    baseline_center,
    baseline_scale,
    cast(baseline_count as integer) as baseline_day_count,
    z_score,
    {{ energy.is_anomaly('z_score') }} as is_anomaly,
    {{ energy.direction('z_score') }} as direction,
    -- the names of the release before, kept for one release (README, "Renamed tables and columns")
    baseline_center as baseline_mean,
    baseline_scale as baseline_stddev,
    cast(baseline_count as integer) as baseline_n
from with_z
