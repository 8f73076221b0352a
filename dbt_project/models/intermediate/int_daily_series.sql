{#- The complete daily totals of each meter: the series the forecasts learn from. -#}
with days as (

    select * from {{ ref('fct_daily_consumption') }}

)

select
    meter_id,
    reading_date,
    {{ energy.day_number('reading_date') }} as day_number,
    {{ energy.iso_day_of_week('reading_date') }} as day_of_week,
    total_kwh,
    dbt_loaded_at
from days
where is_complete
