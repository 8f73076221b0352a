{{
    config(
        materialized='incremental',
        unique_key=['meter_id', 'reading_date'],
        on_schema_change='fail',
    )
}}
{#- Energy per meter and local day, with how complete the day's readings are.
    total_kwh, the counts and the peak are about import (energy from the grid, as they
    always were); export_kwh and net_kwh (import - export) are beside them.
    Incremental: only the days that received readings since the last build are
    recomputed (from all of their readings). -#}
{%- set first_new_day = energy.first_new_day(ref('int_readings_local')) -%}
{%- set day_readings = 'touched_readings' if is_incremental() else 'readings' -%}
{#- On a lake without export (or estimated) readings their columns are zeros and the
    filters and the coverage of export days are left out: same rows, the cost of an
    import-only model (energy.any_rows). -#}
{%- set has_export, has_estimates = energy.any_rows(ref('int_readings_local'), ["flow = 'export'", "quality = 'estimated'"]) -%}
{%- set import_filter = "filter (where flow = 'import')" if has_export else '' -%}
{%- set import_and = "flow = 'import' and " if has_export else '' -%}
with readings as (

    select * from {{ ref('int_readings_local') }}
    {%- if is_incremental() %}
    -- the literal bound lets the engine skip older data without reading it
    where {{ energy.incremental_window(first_new_day, day_column='day_number', utc_start_column='reading_start') }}
    {%- endif %}

),
{% if is_incremental() %}
touched_days as (

    select distinct meter_id, reading_date
    from readings
    where {{ energy.loaded_since_this() }}

),

touched_readings as (

    select readings.*
    from readings
    inner join touched_days
        on touched_days.meter_id = readings.meter_id
        and touched_days.reading_date = readings.reading_date

),
{% endif %}

daily as (

    -- one pass over the day's readings of both flows: import (total_kwh, counts,
    -- peak: what these columns have always meant), export and estimated reads beside it
    select
        meter_id,
        reading_date,
        max(timezone) as timezone,
        coalesce(sum(kwh) {{ import_filter }}, 0) as total_kwh,
        {%- if has_export %}
        coalesce(sum(kwh) filter (where flow = 'export'), 0) as export_kwh,
        {%- else %}
        cast(0 as double) as export_kwh,
        {%- endif %}
        -- count(kwh): a missing reading (kwh null) is a gap, not a reading
        count(kwh) {{ import_filter }} as reading_count,
        {%- if has_export %}
        count(kwh) filter (where flow = 'export') as export_reading_count,
        {%- else %}
        cast(0 as bigint) as export_reading_count,
        {%- endif %}
        {%- if has_estimates %}
        count(kwh) filter (where {{ import_and }}quality = 'estimated') as estimated_reading_count,
        {%- else %}
        cast(0 as bigint) as estimated_reading_count,
        {%- endif %}
        {%- if has_export and has_estimates %}
        count(kwh) filter (where flow = 'export' and quality = 'estimated') as export_estimated_reading_count,
        {%- else %}
        cast(0 as bigint) as export_estimated_reading_count,
        {%- endif %}
        min(interval_minutes) as interval_minutes,
        sum(interval_minutes) filter (where {{ import_and }}kwh is not null) as import_minutes,
        max(kwh) {{ import_filter }} as peak_kwh,
        -- peak demand: the largest average power of an interval, comparable across
        -- 15- and 60-minute meters (the largest kWh is not)
        max({{ energy.fdiv('kwh * 60', 'interval_minutes') }}) {{ import_filter }} as peak_kw,
        -- the earliest interval of the day's largest reading (a sort per day would cost
        -- a window over every reading)
        min_by(reading_start, row(-kwh, reading_start)) filter (where {{ import_and }}kwh is not null) as peak_interval_start,
        max(ingested_at) as last_ingested_at,
        max(dbt_loaded_at) as dbt_loaded_at
    from {{ day_readings }}
    group by meter_id, reading_date

),

-- The day's coverage is of the meter's intervals: an interval counts when it has a
-- reading of either flow. A net meter (signed values split by the ingest) has one row
-- per interval, import or export, and an exported interval is one in which it took
-- nothing from the grid. Only days with export readings need the intervals told apart;
-- on every other day the import minutes are the coverage, from the pass above.
{%- if has_export %}
export_days as (

    select meter_id, reading_date
    from daily
    where export_reading_count > 0

),

export_day_intervals as (

    select distinct day_readings.meter_id, day_readings.reading_date, day_readings.reading_start, day_readings.interval_minutes
    from {{ day_readings }} as day_readings
    inner join export_days
        on export_days.meter_id = day_readings.meter_id
        and export_days.reading_date = day_readings.reading_date
    where day_readings.kwh is not null

),

export_day_coverage as (

    select meter_id, reading_date, sum(interval_minutes) as covered_minutes
    from export_day_intervals
    group by meter_id, reading_date

),
{%- endif %}

with_day_length as (

    select
        daily.*,
        {%- if has_export %}
        coalesce(export_day_coverage.covered_minutes, daily.import_minutes, 0) as covered_minutes,
        {%- else %}
        coalesce(daily.import_minutes, 0) as covered_minutes,
        {%- endif %}
        {{ energy.local_day_minutes('daily.reading_date', 'daily.timezone') }} as day_minutes
    from daily
    {% if has_export -%}
    left join export_day_coverage
        on export_day_coverage.meter_id = daily.meter_id
        and export_day_coverage.reading_date = daily.reading_date
    {%- endif %}

)

select
    meter_id,
    reading_date,
    timezone,
    total_kwh,
    export_kwh,
    total_kwh - export_kwh as net_kwh,
    reading_count,
    export_reading_count,
    estimated_reading_count,
    {{ energy.fdiv('estimated_reading_count', 'reading_count') }} as estimated_share,
    export_estimated_reading_count,
    cast(day_minutes / interval_minutes as integer) as expected_reading_count,
    least({{ energy.fdiv('covered_minutes', 'day_minutes') }}, 1.0) as completeness,
    {{ energy.fdiv('covered_minutes', 'day_minutes') }} >= {{ var('complete_day_share') }} as is_complete,
    day_minutes,
    interval_minutes,
    peak_kwh,
    peak_kw,
    peak_interval_start,
    last_ingested_at,
    dbt_loaded_at
from with_day_length
