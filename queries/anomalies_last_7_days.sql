-- Anomalies in the last 7 days of data: flagged readings, largest deviation first.
with last_day as (
    select max(reading_date) as day from fct_reading_anomalies
)
select
    meter_id,
    reading_start,
    round(kwh, 3) as kwh,
    round(baseline_center, 3) as usual_kwh,
    round(z_score, 2) as z_score,
    direction
from fct_reading_anomalies, last_day
where is_anomaly
  and reading_date > last_day.day - interval '7' day
order by abs(z_score) desc
limit 50;
