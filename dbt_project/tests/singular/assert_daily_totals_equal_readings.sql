-- depends_on: {{ ref('int_readings_local') }}
-- Every kWh of stg_lake__readings is counted in exactly one day of fct_daily_consumption, in
-- the column of its flow (import in total_kwh, export in export_kwh), and a missing
-- reading (kwh null) is counted in no reading count.
--
-- On an incremental `energy build` (var test_new_rows_only) only the local days from the
-- first day the build wrote are compared, per meter (int_readings_local places readings
-- on those days; its reading_start literal lets the engines skip older files): the
-- older days were compared when they were written, and a build rewrites every day a
-- new reading falls on. Otherwise every reading, per meter, without any day mapping.
{%- set scoped = var('test_new_rows_only', false) -%}
{%- set first_day = none -%}
{%- if scoped and execute -%}
    {%- set first_day = energy.first_day_staged_by_this_build() -%}
{%- endif %}
with readings as (
    select
        meter_id,
        coalesce(sum(case when flow = 'import' then kwh end), 0) as kwh,
        coalesce(sum(case when flow = 'export' then kwh end), 0) as export_kwh,
        count(case when flow = 'import' then kwh end) as readings,
        count(case when flow = 'export' then kwh end) as export_readings
    {%- if scoped %}
    from {{ ref('int_readings_local') }}
    where {{ energy.incremental_window(first_day, day_column='day_number', utc_start_column='reading_start') }}
    {%- else %}
    from {{ ref('stg_lake__readings') }}
    {%- endif %}
    group by meter_id
),

days as (
    select
        meter_id,
        sum(total_kwh) as kwh,
        sum(export_kwh) as export_kwh,
        sum(reading_count) as readings,
        sum(export_reading_count) as export_readings
    from {{ ref('fct_daily_consumption') }}
    {%- if scoped %}
    where {{ energy.incremental_window(first_day, date_column='reading_date') }}
    {%- endif %}
    group by meter_id
)

select readings.meter_id, readings.kwh, days.kwh as daily_kwh, readings.export_kwh, days.export_kwh as daily_export_kwh
from readings
full outer join days on readings.meter_id = days.meter_id
where days.meter_id is null
    or readings.meter_id is null
    or readings.readings <> days.readings
    or readings.export_readings <> days.export_readings
    or abs(readings.kwh - days.kwh) > 1e-9 * greatest(1, abs(readings.kwh))
    or abs(readings.export_kwh - days.export_kwh) > 1e-9 * greatest(1, abs(readings.export_kwh))
