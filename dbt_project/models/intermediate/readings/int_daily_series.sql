{#- The complete daily totals of each meter and flow: the series the forecasts learn
    from (import for every meter, export for the meters that feed in). -#}
with days as (

    select * from {{ ref('int_daily_flows') }}

)

select
    meter_id,
    flow,
    reading_date,
    {{ energy.day_number('reading_date') }} as day_number,
    {{ energy.iso_day_of_week('reading_date') }} as day_of_week,
    total_kwh,
    dbt_loaded_at
from days
where is_complete
