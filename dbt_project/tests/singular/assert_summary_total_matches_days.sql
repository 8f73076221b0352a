-- The all-meters total in rpt_summary equals the sum of every daily total.
select s.total_kwh, d.total_kwh as daily_total
from {{ ref('rpt_summary') }} as s
cross join (select sum(total_kwh) as total_kwh from {{ ref('fct_daily_consumption') }}) as d
where s.scope = 'all'
  and abs(s.total_kwh - d.total_kwh) > 1e-9 * greatest(1, abs(d.total_kwh))
