{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ energy.delete_from_first_changed_day(none, 'reading_date') }}",
        on_schema_change='fail',
        partitioned_by=energy.monthly_partitions('reading_date'),
        properties=energy.monthly_partition_properties('reading_date'),
    )
}}
{#- Level shifts: a sustained change of a meter's consumption against the weeks before
    it (a plant left running at weekends, a new load, a process switched off), per meter
    and flow, for the week ending on every complete day.

    Each day's baseline is the median of the same weekday's totals over the var
    level_shift_baseline_weeks (4) weeks before it, so a weekly pattern (closed at
    weekends) is compared with itself and one odd week in the baseline (a holiday, a
    spike) moves nothing. The week ending on a day is compared with the sum of its days'
    baselines (week_change_share); the week counts when all its seven days are complete
    and each has at least var level_shift_min_baseline_weeks (3) weeks of baseline. A
    level shift is two weeks in a row (the week and the one before it) beyond var
    level_shift_share (0.2, 20%) in the same direction: a single spike or a one-week
    closure is not a shift. Once the change has lasted about three weeks it is the
    baselines' median and the flag ends: a shift is flagged from when it has lasted two
    weeks, for the week or so after; level_shift_started is the first day of the two weeks.

    Incremental: days from the first day whose total is new or changed are computed
    again (a pre-hook deletes them), from the 7 x weeks + 13 days of history their weeks
    and baselines reach. -#}
{%- set weeks = var('level_shift_baseline_weeks') -%}
{%- set share = var('level_shift_share') -%}
{%- set first_new_day = energy.first_changed_daily_total() -%}
with series as (

    select meter_id, flow, reading_date, day_number, total_kwh
    from {{ ref('int_daily_series') }}
    {%- if is_incremental() %}
    -- a compared week's days (13 days back for the week before it) and their baselines
    where {{ energy.incremental_window(first_new_day, 7 * weeks + 13, day_column='day_number') }}
    {%- endif %}

),

earlier_weeks as (

    -- the same weekday's total 1, 2, ... weeks before (null when that day is missing or
    -- incomplete): windows over the one read of the series, not a self-join (a CTE
    -- read twice is scanned twice on Trino and Athena)
    select
        {%- for week in range(1, weeks + 1) %}
        max(total_kwh) over (
            partition by meter_id, flow order by day_number range between {{ 7 * week }} preceding and {{ 7 * week }} preceding
        ) as week_{{ week }}_kwh,
        {%- endfor %}
        meter_id,
        flow,
        reading_date,
        day_number,
        total_kwh
    from series

),

same_weekdays as (

    -- one row per day and week back
    select
        earlier_weeks.meter_id,
        earlier_weeks.flow,
        earlier_weeks.reading_date,
        earlier_weeks.day_number,
        earlier_weeks.total_kwh,
        case weeks_back.weeks
            {%- for week in range(1, weeks + 1) %}
            when {{ week }} then earlier_weeks.week_{{ week }}_kwh
            {%- endfor %}
        end as earlier_kwh
    from earlier_weeks
    cross join (
        values
        {%- for week in range(1, weeks + 1) %}
        ({{ week }}){{ ',' if not loop.last }}
        {%- endfor %}
    ) as weeks_back (weeks)
    {%- if is_incremental() %}
    where {{ energy.incremental_window(first_new_day, 13, day_column='day_number', relation='earlier_weeks') }}
    {%- endif %}

),

ranked_weekdays as (

    {{ energy.rank_for_quantiles('same_weekdays', 'meter_id, flow, day_number', 'earlier_kwh') }}

),

day_baselines as (

    select
        meter_id,
        flow,
        reading_date,
        day_number,
        total_kwh,
        {{ energy.exact_quantile('earlier_kwh', 0.5) }} as baseline_kwh,
        count(earlier_kwh) as baseline_weeks
    from ranked_weekdays
    group by meter_id, flow, reading_date, day_number, total_kwh

),

weeks as (

    select
        *,
        count(*) over week_frame as week_day_count,
        min(baseline_weeks) over week_frame as fewest_baseline_weeks,
        sum(total_kwh) over week_frame as week_kwh,
        sum(baseline_kwh) over week_frame as baseline_week_kwh
    from day_baselines
    window week_frame as (partition by meter_id, flow order by day_number range between 6 preceding and current row)

),

compared as (

    select
        meter_id,
        flow,
        reading_date,
        day_number,
        case when week_day_count = 7 and fewest_baseline_weeks >= {{ var('level_shift_min_baseline_weeks') }} then week_kwh end as week_kwh,
        case when week_day_count = 7 and fewest_baseline_weeks >= {{ var('level_shift_min_baseline_weeks') }} then baseline_week_kwh end as baseline_week_kwh
    from weeks

),

changes as (

    select
        *,
        case when baseline_week_kwh > 0 then week_kwh / baseline_week_kwh - 1 end as week_change_share
    from compared

),

with_week_before as (

    -- the week ending seven days earlier (a window again, not a self-join)
    select
        *,
        max(week_change_share) over (
            partition by meter_id, flow order by day_number range between 7 preceding and 7 preceding
        ) as previous_week_change_share
    from changes

),

shifts as (

    select
        meter_id,
        flow,
        reading_date,
        week_kwh,
        baseline_week_kwh,
        week_change_share,
        previous_week_change_share,
        case
            when week_change_share > {{ share }} and previous_week_change_share > {{ share }} then 'high'
            when week_change_share < -{{ share }} and previous_week_change_share < -{{ share }} then 'low'
        end as direction
    from with_week_before
    {%- if is_incremental() %}
    where {{ energy.incremental_window(first_new_day, day_column='day_number') }}
    {%- endif %}

)

select
    meter_id,
    cast(flow as {{ energy.flow_type() }}) as flow,
    reading_date,
    week_kwh,
    baseline_week_kwh,
    week_change_share,
    previous_week_change_share,
    direction is not null as is_level_shift,
    direction,
    case when direction is not null then {{ energy.add_days('reading_date', -13) }} end as level_shift_started,
    {{ energy.build_started_at() }} as dbt_loaded_at
from shifts
