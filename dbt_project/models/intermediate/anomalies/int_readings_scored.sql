{{
    config(
        materialized='incremental',
        unique_key=['meter_id', 'flow', 'reading_start'],
        on_schema_change='fail',
        partitioned_by=energy.monthly_partitions('reading_start'),
        properties=energy.monthly_partition_properties('reading_start'),
    )
}}
{#- The computation behind the public fct_reading_anomalies (a view of this table).
    Every reading scored against its meter's own history of the same flow (import,
    export) in the same local time-of-day slot (see macros/anomaly.sql for the window
    and method vars). An estimated reading is in no baseline and never flagged (var
    anomaly_include_estimated); a missing one (kwh null) neither, it is listed only. With the default
    trailing window the baseline ends the day before the reading: neither the reading
    itself nor anything later is in it, so a flag never changes once raised.

    Incremental: for each meter with new readings, rows from its first new day on are
    scored again (from the day the new data can reach, for a centered window), each
    joined to its baseline rows in one window of history before them
    (energy.joined_baseline); the rest of the table is untouched. -#}
{%- set window = var('anomaly_baseline_days') -%}
{%- set reach = (window // 2) if var('anomaly_window') == 'centered' else 0 -%}
{%- set first_new_day = energy.first_new_day(ref('int_readings_local')) -%}
{#- A lake with no export (or no estimated) readings skips the flow partition (the
    quality column): same rows, the cost of an import-only model (energy.any_rows).
    Without estimated readings a reading's quality follows from its kwh: missing when
    null (stg_lake__readings tests that), else measured. -#}
{%- set has_export, has_estimates = energy.any_rows(ref('int_readings_local'), ["flow = 'export'", "quality = 'estimated'"]) -%}
{%- set carried = ['meter_id'] + (['flow'] if has_export else []) + ['reading_start']
    + (['quality', 'kwh'] if has_estimates else [])
    + ['reading_date', 'slot_minute', 'ingested_at', 'dbt_loaded_at', 'day_key'] -%}
with {% if is_incremental() -%}
touched as (

    select meter_id, min(day_number) as first_new_day
    from {{ ref('int_readings_local') }}
    where {{ energy.loaded_since_this() }}
        and {{ energy.incremental_window(first_new_day, day_column='day_number', utc_start_column='reading_start') }}
    group by meter_id

),

{% endif -%}
readings as (

    select
        all_readings.meter_id,
        {%- if has_export %}
        all_readings.flow,
        {%- endif %}
        all_readings.reading_start,
        {%- if has_estimates %}
        all_readings.quality,
        all_readings.kwh,
        {%- endif %}
        all_readings.reading_date,
        all_readings.slot_minute,
        all_readings.ingested_at,
        all_readings.dbt_loaded_at,
        all_readings.day_number as day_key,
        {%- if has_estimates %}
        {{ energy.baseline_value('all_readings.kwh', "all_readings.quality = 'estimated'") }} as value
        {%- else %}
        all_readings.kwh as value
        {%- endif %}
    from {{ ref('int_readings_local') }} as all_readings
    {%- if is_incremental() %}
    -- one window of history before each meter's first new day; the literal bound lets
    -- the engine skip the older data without reading it
    inner join touched
        on touched.meter_id = all_readings.meter_id
        and all_readings.day_number >= touched.first_new_day - {{ reach + window }}
    where {{ energy.incremental_window(first_new_day, reach + window, day_column='day_number', utc_start_column='reading_start', relation='all_readings') }}
    {%- endif %}

),

{% if is_incremental() -%}
-- the readings to score again: each meter's from its first new day on (from the day
-- new data can reach, for a centered window); the rest of `readings` is their history
new_readings as (

    select readings.*
    from readings
    inner join touched
        on touched.meter_id = readings.meter_id
        and readings.day_key >= touched.first_new_day - {{ reach }}

),

{% endif -%}
-- the baseline of every reading to score (of new_readings, incremental): CTEs ending in
-- `baselines`, one row per reading with baseline_center, baseline_scale and baseline_count,
-- by the rule of var anomaly_method and var anomaly_window (macros/anomaly.sql)
{{ energy.baseline_ctes(
    'readings', ['meter_id'] + (['flow'] if has_export else []) + ['slot_minute'],
    carried | join(', '), window,
    scored='new_readings' if is_incremental() else none, identity='reading_start') }},

scored as (

    select
        baselines.*,
        {{ energy.z_score('value') }} as z_score
    from baselines

)

select
    meter_id,
    cast({{ 'flow' if has_export else "'import'" }} as {{ energy.flow_type() }}) as flow,
    reading_start,
    reading_date,
    slot_minute,
    {%- if has_estimates %}
    kwh,
    cast(quality as {{ energy.quality_type() }}) as quality,
    {%- else %}
    value as kwh,
    cast(case when value is null then 'missing' else 'measured' end as {{ energy.quality_type() }}) as quality,
    {%- endif %}
    baseline_center,
    baseline_scale,
    baseline_count as baseline_reading_count,
    z_score,
    {{ energy.is_anomaly('z_score') }} as is_anomaly,
    {{ energy.direction('z_score') }} as direction,
    ingested_at,
    dbt_loaded_at
from scored
