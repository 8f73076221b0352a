-- Week over week: each meter's last 7 days against the 7 days before.
with last_day as (
    select max(reading_date) as day from fct_daily_consumption
),
weeks as (
    select
        meter_id,
        sum(case when reading_date > last_day.day - interval '7' day then total_kwh end) as this_week_kwh,
        sum(case when reading_date <= last_day.day - interval '7' day and reading_date > last_day.day - interval '14' day then total_kwh end) as last_week_kwh
    from fct_daily_consumption, last_day
    where reading_date > last_day.day - interval '14' day
    group by meter_id
)
select
    meter_id,
    round(this_week_kwh, 1) as this_week_kwh,
    round(last_week_kwh, 1) as last_week_kwh,
    round(100 * (this_week_kwh - last_week_kwh) / nullif(last_week_kwh, 0), 1) as change_pct
from weeks
order by abs(this_week_kwh - last_week_kwh) desc;
