{#- The headline numbers, per meter and for all meters: consumption over the period,
    anomaly counts and the next days' forecast (selected method) with its bounds.
    total_kwh and the forecast are import (energy from the grid); export_kwh and
    net_kwh (import - export) are beside them; anomaly counts take in both flows.
    The all-meters bounds add the meters' bounds, which assumes their errors move
    together: a conservative (wide) band. -#}
with daily as (

    select * from {{ ref('fct_daily_consumption') }}

),

reading_anomalies as (

    select meter_id, count(*) as reading_anomalies
    from {{ ref('fct_reading_anomalies') }}
    where is_anomaly
    group by meter_id

),

daily_anomalies as (

    select meter_id, count(*) as daily_anomalies
    from {{ ref('fct_daily_anomalies') }}
    where is_anomaly
    group by meter_id

),

forecast as (

    select
        meter_id,
        sum(forecast_kwh) as forecast_7d_kwh,
        sum(lower_kwh) as forecast_7d_lower_kwh,
        sum(upper_kwh) as forecast_7d_upper_kwh
    from {{ ref('fct_forecast') }}
    where is_selected
        and flow = 'import'
    group by meter_id

),

per_meter as (

    select
        daily.meter_id,
        min(daily.reading_date) as period_start,
        max(daily.reading_date) as period_end,
        count(*) as days,
        sum(daily.total_kwh) as total_kwh,
        sum(daily.export_kwh) as export_kwh
    from daily
    group by daily.meter_id

),

meters as (

    select
        'meter' as scope,
        per_meter.meter_id,
        per_meter.period_start,
        per_meter.period_end,
        per_meter.days,
        per_meter.total_kwh,
        {{ energy.fdiv('per_meter.total_kwh', 'per_meter.days') }} as daily_average_kwh,
        coalesce(reading_anomalies.reading_anomalies, 0) as reading_anomalies,
        coalesce(daily_anomalies.daily_anomalies, 0) as daily_anomalies,
        forecast.forecast_7d_kwh,
        forecast.forecast_7d_lower_kwh,
        forecast.forecast_7d_upper_kwh,
        per_meter.export_kwh,
        per_meter.total_kwh - per_meter.export_kwh as net_kwh
    from per_meter
    left join reading_anomalies on per_meter.meter_id = reading_anomalies.meter_id
    left join daily_anomalies on per_meter.meter_id = daily_anomalies.meter_id
    left join forecast on per_meter.meter_id = forecast.meter_id

),

calendar as (

    select count(distinct reading_date) as days from daily

),

all_meters as (

    select
        'all' as scope,
        cast(null as varchar) as meter_id,
        min(meters.period_start) as period_start,
        max(meters.period_end) as period_end,
        max(calendar.days) as days,
        sum(meters.total_kwh) as total_kwh,
        {{ energy.fdiv('sum(meters.total_kwh)', 'max(calendar.days)') }} as daily_average_kwh,
        sum(meters.reading_anomalies) as reading_anomalies,
        sum(meters.daily_anomalies) as daily_anomalies,
        sum(meters.forecast_7d_kwh) as forecast_7d_kwh,
        sum(meters.forecast_7d_lower_kwh) as forecast_7d_lower_kwh,
        sum(meters.forecast_7d_upper_kwh) as forecast_7d_upper_kwh,
        sum(meters.export_kwh) as export_kwh,
        sum(meters.total_kwh) - sum(meters.export_kwh) as net_kwh
    from meters
    cross join calendar

)

select * from meters
union all
select * from all_meters
