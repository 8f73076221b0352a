-- depends_on: {{ ref('int_readings_local') }}
-- fct_reading_anomalies_daily counts every scored and every flagged reading of
-- int_readings_scored (public as fct_reading_anomalies) on its local day, no more and no fewer.
--
-- On an incremental `energy build` (var test_new_rows_only) only the days from the first
-- local day of the readings this build staged are compared (the days the build counted
-- again; a literal reading_start bound lets the engines skip older partitions).
-- Otherwise every day.
{%- set scoped = var('test_new_rows_only', false) -%}
{%- set first_day = none -%}
{%- if scoped and execute -%}
    {%- set first_day = energy.first_day_staged_by_this_build() -%}
{%- endif %}
{%- set reach = (var('anomaly_baseline_days') // 2) if var('anomaly_window') == 'centered' else 0 %}
with readings as (
    select
        meter_id,
        flow,
        reading_date,
        count(z_score) as scored,
        count(case when is_anomaly then 1 end) as flagged
    from {{ ref('int_readings_scored') }}
    {%- if scoped %}
    where {{ energy.incremental_window(first_day, reach, date_column='reading_date', utc_start_column='reading_start') }}
    {%- endif %}
    group by meter_id, flow, reading_date
),

days as (
    select meter_id, flow, reading_date, scored_reading_count, anomaly_count
    from {{ ref('fct_reading_anomalies_daily') }}
    {%- if scoped %}
    where {{ energy.incremental_window(first_day, reach, date_column='reading_date') }}
    {%- endif %}
)

select
    coalesce(readings.meter_id, days.meter_id) as meter_id,
    coalesce(readings.flow, days.flow) as flow,
    coalesce(readings.reading_date, days.reading_date) as reading_date,
    readings.scored, days.scored_reading_count,
    readings.flagged, days.anomaly_count
from readings
full outer join days
    on days.meter_id = readings.meter_id
    and days.flow = readings.flow
    and days.reading_date = readings.reading_date
where days.meter_id is null
    or readings.meter_id is null
    or readings.scored <> days.scored_reading_count
    or readings.flagged <> days.anomaly_count
