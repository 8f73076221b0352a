{#- The next var forecast_horizon_days days after each meter's last complete day.
    moving_average (the seed's method): the mean of the last var forecast_history_days
    complete daily totals, with an interval of +/- var forecast_interval_stddevs sample
    standard deviations (the lower bound held at zero: energy use is not negative). -#}
with complete_days as (

    select
        meter_id,
        reading_date,
        total_kwh,
        row_number() over (partition by meter_id order by reading_date desc) as days_back
    from {{ ref('fct_daily_consumption') }}
    where is_complete

),

history as (

    select
        meter_id,
        max(reading_date) as last_complete_date,
        avg(total_kwh) as mean_kwh,
        stddev_samp(total_kwh) as stddev_kwh,
        count(*) as history_days
    from complete_days
    where days_back <= {{ var('forecast_history_days') }}
    group by meter_id

),

horizons as (

    select horizon_days
    from (values {% for h in range(1, var('forecast_horizon_days') + 1) %}({{ h }}){% if not loop.last %}, {% endif %}{% endfor %}) as h (horizon_days)

),

moving_average as (

    select
        history.meter_id,
        'moving_average' as method,
        {{ energy.add_days('history.last_complete_date', 'horizons.horizon_days') }} as forecast_date,
        horizons.horizon_days,
        history.mean_kwh as forecast_kwh,
        greatest(history.mean_kwh - {{ var('forecast_interval_stddevs') }} * coalesce(history.stddev_kwh, 0), 0) as lower_kwh,
        history.mean_kwh + {{ var('forecast_interval_stddevs') }} * coalesce(history.stddev_kwh, 0) as upper_kwh,
        history.last_complete_date,
        cast(history.history_days as integer) as history_days
    from history
    cross join horizons

)

select
    meter_id,
    method,
    forecast_date,
    cast(horizon_days as integer) as horizon_days,
    forecast_kwh,
    lower_kwh,
    upper_kwh,
    true as is_selected,
    last_complete_date,
    history_days
from moving_average
