-- Every kWh of stg_readings is counted in exactly one day of fct_daily_consumption.
with readings as (
    select meter_id, sum(kwh) as kwh, count(*) as readings from {{ ref('stg_readings') }} group by meter_id
),
days as (
    select meter_id, sum(total_kwh) as kwh, sum(reading_count) as readings from {{ ref('fct_daily_consumption') }} group by meter_id
)
select readings.meter_id, readings.kwh, days.kwh as daily_kwh
from readings
full outer join days on readings.meter_id = days.meter_id
where days.meter_id is null
   or readings.meter_id is null
   or readings.readings <> days.readings
   or abs(readings.kwh - days.kwh) > 1e-9 * greatest(1, abs(readings.kwh))
