{#- The headline numbers, per meter and for all meters: consumption over the period,
    anomaly counts and the next days' forecast (selected method) with its bounds.
    total_kwh and the forecast are import (energy from the grid); export_kwh and
    net_kwh (import - export) are beside them; anomaly counts take in both flows.
    The all-meters bounds add the meters' bounds, which assumes their errors move
    together: a conservative (wide) band. no_forecast_reason says why a meter has no
    forecast (too few complete local days: fct_forecast's var forecast_min_days rule),
    and on the all-meters row how many meters its forecast leaves out. -#}
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

last_complete as (

    select
        meter_id,
        max(reading_date) as last_complete_date,
        max({{ energy.day_number('reading_date') }}) as last_complete_day
    from daily
    where is_complete
    group by meter_id

),

forecast_history as (

    {#- Complete local days per meter, all and in the moving average's window up to the
        last one: what fct_forecast's var forecast_min_days rule counts. -#}
    select
        daily.meter_id,
        count(case when daily.is_complete then 1 end) as complete_days,
        count(case when daily.is_complete
            and {{ energy.day_number('daily.reading_date') }} > last_complete.last_complete_day - {{ var('forecast_history_days') }}
            then 1 end) as recent_complete_days,
        max(last_complete.last_complete_date) as last_complete_date
    from daily
    left join last_complete on last_complete.meter_id = daily.meter_id
    group by daily.meter_id

),

no_forecast as (

    select
        forecast_history.meter_id,
        case
            when complete_days = 0
                then 'not enough history: no complete local day yet'
            when complete_days < {{ var('forecast_min_days') }}
                then 'not enough history: ' || cast(complete_days as varchar)
                    || case when complete_days = 1 then ' complete local day' else ' complete local days' end
                    || ', forecasts need at least {{ var('forecast_min_days') }}'
            else 'not enough recent history: ' || cast(recent_complete_days as varchar)
                || case when recent_complete_days = 1 then ' complete local day' else ' complete local days' end
                || ' in the {{ var('forecast_history_days') }} days up to ' || cast(last_complete_date as varchar)
                || ', forecasts need at least {{ var('forecast_min_days') }}'
        end as reason
    from forecast_history
    left join forecast on forecast.meter_id = forecast_history.meter_id
    where forecast.meter_id is null

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
        no_forecast.reason as no_forecast_reason,
        per_meter.export_kwh,
        per_meter.total_kwh - per_meter.export_kwh as net_kwh
    from per_meter
    left join reading_anomalies on per_meter.meter_id = reading_anomalies.meter_id
    left join daily_anomalies on per_meter.meter_id = daily_anomalies.meter_id
    left join forecast on per_meter.meter_id = forecast.meter_id
    left join no_forecast on per_meter.meter_id = no_forecast.meter_id

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
        case
            when count(meters.no_forecast_reason) = count(*) then 'no meter has a forecast yet'
            when count(meters.no_forecast_reason) > 0
                then cast(count(meters.no_forecast_reason) as varchar) || ' of ' || cast(count(*) as varchar)
                    || ' meters have no forecast (see their rows): the forecast covers the others'
        end as no_forecast_reason,
        sum(meters.export_kwh) as export_kwh,
        sum(meters.total_kwh) - sum(meters.export_kwh) as net_kwh
    from meters
    cross join calendar

)

select * from meters
union all
select * from all_meters
