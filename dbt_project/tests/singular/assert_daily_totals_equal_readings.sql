-- Every kWh of stg_readings is counted in exactly one day of fct_daily_consumption, in
-- the column of its flow (import in total_kwh, export in export_kwh), and a missing
-- reading (kwh null) is counted in no reading count.
with readings as (
    select
        meter_id,
        coalesce(sum(case when flow = 'import' then kwh end), 0) as kwh,
        coalesce(sum(case when flow = 'export' then kwh end), 0) as export_kwh,
        count(case when flow = 'import' then kwh end) as readings,
        count(case when flow = 'export' then kwh end) as export_readings
    from {{ ref('stg_readings') }}
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
