{{ config(materialized='table') }}
{#- Each meter's state as of its last reading, per flow: silent (no reading for a while
    when others report), stuck (the same non-zero value for hours) or reading zero for a
    day on import. Rebuilt on every build from the last var meter_health_days days of
    readings only (a literal bound from the table's metadata, so the engines prune the
    older months), and each meter's last day from the daily totals for meters that have
    been silent longer than that. Estimated reads are left out: a utility's estimates
    are often flat, and they say nothing about the meter. -#}
{#- A literal bound (true while parsing and in unit tests, whose inputs are fixtures). -#}
{%- set recent_bound = 'true' -%}
{%- set recent_days_bound = 'true' -%}
{%- if execute and model.resource_type == 'model' and load_relation(ref('stg_lake__readings')) is not none -%}
  {%- set newest = energy.column_max(ref('stg_lake__readings'), 'reading_start') -%}
  {%- if newest is not none -%}
    {%- set since = modules.datetime.datetime.strptime((newest | string)[:19], '%Y-%m-%d %H:%M:%S')
        - modules.datetime.timedelta(days=var('meter_health_days')) -%}
    {%- set recent_bound = "reading_start >= cast(timestamp '" ~ since.strftime('%Y-%m-%d %H:%M:%S') ~ "' as "
        ~ energy.stored_timestamp() ~ ")" -%}
    {%- set recent_days_bound = "reading_date >= date '" ~ since.strftime('%Y-%m-%d') ~ "'" -%}
  {%- endif -%}
{%- endif -%}
with recent as (

    select
        meter_id,
        flow,
        reading_start,
        interval_minutes,
        kwh
    from {{ ref('stg_lake__readings') }}
    where
        kwh is not null
        and coalesce(quality, 'measured') <> 'estimated'
        and {{ recent_bound }}

),

ranked as (

    select
        *,
        row_number() over (partition by meter_id, flow order by reading_start desc) as rank_from_last,
        first_value(kwh) over (partition by meter_id, flow order by reading_start desc) as last_kwh
    from recent

),

from_the_end as (

    -- how many readings from the last one back to this one differ from the last value:
    -- 0 on the run of the last value
    select
        *,
        sum(case when kwh <> last_kwh then 1 else 0 end) over (
            partition by meter_id, flow order by rank_from_last rows between unbounded preceding and current row
        ) as changes_from_the_end
    from ranked

),

runs as (

    select
        meter_id,
        flow,
        max(case when rank_from_last = 1 then reading_start end) as last_reading_start,
        max(last_kwh) as last_kwh,
        count(case when changes_from_the_end = 0 then 1 end) as unchanged_reading_count,
        {{ energy.fdiv('sum(case when changes_from_the_end = 0 then interval_minutes end)', 60) }} as unchanged_hours
    from from_the_end
    group by meter_id, flow

),

behind as (

    select
        *,
        -- a meter reports when any of its flows does; the lake's newest reading is any meter's
        {{ energy.fdiv(
            "date_diff('minute', max(last_reading_start) over (partition by meter_id), max(last_reading_start) over ())", 60
        ) }} as hours_behind_lake
    from runs

),

last_days as (

    select
        meter_id,
        max(case when reading_count > 0 then reading_date end) as last_import_date,
        max(case when export_reading_count > 0 then reading_date end) as last_export_date
    from {{ ref('fct_daily_consumption') }}
    group by meter_id

),

recent_weeks as (

    -- the level shift comparison of each meter and flow's last complete day in the window
    select
        *,
        row_number() over (partition by meter_id, flow order by reading_date desc) as rank_from_last
    from {{ ref('fct_level_shifts') }}
    where {{ recent_days_bound }}

),

last_weeks as (

    select *
    from recent_weeks
    where rank_from_last = 1

),

meter_flows as (

    select
        last_days.meter_id,
        flows.flow,
        case when flows.flow = 'import' then last_days.last_import_date else last_days.last_export_date end as last_reading_date
    from last_days
    cross join (values ('import'), ('export')) as flows (flow)

),

health as (

    select
        meter_flows.meter_id,
        cast(meter_flows.flow as {{ energy.flow_type() }}) as flow,
        meter_flows.last_reading_date,
        behind.last_reading_start,
        behind.last_kwh,
        behind.unchanged_reading_count,
        behind.unchanged_hours,
        last_weeks.week_change_share,
        last_weeks.is_level_shift,
        last_weeks.level_shift_started,
        -- the meter's, also on a flow with no reading in the window
        min(behind.hours_behind_lake) over (partition by meter_flows.meter_id) as hours_behind_lake,
        -- whole local days, from the daily totals: also for a meter silent longer than the window
        date_diff(
            'day',
            max(meter_flows.last_reading_date) over (partition by meter_flows.meter_id),
            max(meter_flows.last_reading_date) over ()
        ) as days_behind_lake
    from meter_flows
    left join behind
        on behind.meter_id = meter_flows.meter_id
        and behind.flow = meter_flows.flow
    left join last_weeks
        on last_weeks.meter_id = meter_flows.meter_id
        and last_weeks.flow = meter_flows.flow
    where meter_flows.last_reading_date is not null

)

select
    meter_id,
    flow,
    last_reading_date,
    last_reading_start,
    hours_behind_lake,
    cast(days_behind_lake as integer) as days_behind_lake,
    -- no measured reading in the window, or none for var meter_health_silent_hours while others report
    coalesce(hours_behind_lake >= {{ var('meter_health_silent_hours') }}, true) as is_silent,
    last_kwh,
    unchanged_reading_count,
    unchanged_hours,
    coalesce(last_kwh > 0 and unchanged_hours >= {{ var('meter_health_stuck_hours') }}, false) as is_stuck,
    coalesce(
        flow = 'import' and last_kwh = 0 and unchanged_hours >= {{ var('meter_health_zero_hours') }}, false
    ) as is_sustained_zero,
    week_change_share,
    coalesce(is_level_shift, false) as is_level_shift,
    level_shift_started,
    {{ energy.build_started_at() }} as dbt_loaded_at
from health
