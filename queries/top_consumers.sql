-- Top consumers: energy per meter over its last 30 days with readings, and the share of the total.
with last_day as (
    select max(reading_date) as day from fct_daily_consumption
),
recent as (
    select meter_id, sum(total_kwh) as kwh_30d, avg(completeness) as completeness
    from fct_daily_consumption, last_day
    where reading_date > last_day.day - interval '30' day
    group by meter_id
)
select
    meter_id,
    round(kwh_30d, 1) as kwh_30d,
    round(100 * kwh_30d / sum(kwh_30d) over (), 1) as share_pct,
    round(completeness, 3) as completeness
from recent
order by kwh_30d desc
limit 20;
