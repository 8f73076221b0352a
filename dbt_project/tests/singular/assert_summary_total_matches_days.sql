-- The all-meters total in rpt_summary equals the sum of every daily total.
with daily_totals as (

    select sum(total_kwh) as total_kwh from {{ ref('fct_daily_consumption') }}

)

select summary_rows.total_kwh, daily_totals.total_kwh as daily_total
from {{ ref('rpt_summary') }} as summary_rows
cross join daily_totals
where summary_rows.scope = 'all'
    and abs(summary_rows.total_kwh - daily_totals.total_kwh) > 1e-9 * greatest(1, abs(daily_totals.total_kwh))
