{#- The headline numbers, per meter and for all meters: consumption over the period,
    anomaly counts and the next days' forecast (selected method) with its bounds.
    total_kwh and the forecast are import (energy from the grid); export_kwh and
    net_kwh (import - export) are beside them; anomaly counts take in both flows.
    The all-meters bounds add the meters' bounds, which assumes their errors move
    together: a conservative (wide) band. no_forecast_reason says why a meter has no
    forecast (too few complete local days: fct_forecast's var forecast_min_days rule),
    and on the all-meters row how many meters its forecast leaves out.

    Rebuilt on every build, so it reads each table it needs once: Trino and Athena run
    a CTE again at every reference (and Athena bills each read), so each CTE here is
    referenced once, and the all-meters row is the rollup of the meters' rows
    rather than a second pass over them. -#}
with daily as (

    -- each day with its meter's last complete day beside it (the moving average's
    -- window ends there)
    select
        meter_id,
        reading_date,
        total_kwh,
        export_kwh,
        is_complete,
        {{ energy.day_number('reading_date') }} as day_number,
        max(case when is_complete then {{ energy.day_number('reading_date') }} end)
            over (partition by meter_id) as last_complete_day
    from {{ ref('fct_daily_consumption') }}

),

per_meter as (

    {#- Complete local days per meter, all and in the moving average's window up to the
        last one: what fct_forecast's var forecast_min_days rule counts. -#}
    select
        meter_id,
        min(reading_date) as period_start,
        max(reading_date) as period_end,
        count(*) as days,
        sum(total_kwh) as total_kwh,
        sum(export_kwh) as export_kwh,
        count(case when is_complete then 1 end) as complete_days,
        count(
            case when is_complete and day_number > last_complete_day - {{ var('forecast_history_days') }} then 1 end
        ) as recent_complete_days,
        max(case when is_complete then reading_date end) as last_complete_date
    from daily
    group by meter_id

),

calendar as (

    select count(distinct reading_date) as days from {{ ref('fct_daily_consumption') }}

),

reading_anomalies as (

    -- per day, not per reading
    select meter_id, sum(anomaly_count) as reading_anomalies
    from {{ ref('fct_reading_anomalies_daily') }}
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

meters as (

    select
        per_meter.meter_id,
        per_meter.period_start,
        per_meter.period_end,
        per_meter.days,
        per_meter.total_kwh,
        coalesce(reading_anomalies.reading_anomalies, 0) as reading_anomalies,
        coalesce(daily_anomalies.daily_anomalies, 0) as daily_anomalies,
        forecast.forecast_7d_kwh,
        forecast.forecast_7d_lower_kwh,
        forecast.forecast_7d_upper_kwh,
        case
            when forecast.meter_id is not null then null
            when per_meter.complete_days = 0
                then 'not enough history: no complete local day yet'
            when per_meter.complete_days < {{ var('forecast_min_days') }}
                then 'not enough history: ' || cast(per_meter.complete_days as varchar)
                    || case when per_meter.complete_days = 1 then ' complete local day' else ' complete local days' end
                    || ', forecasts need at least {{ var('forecast_min_days') }}'
            else 'not enough recent history: ' || cast(per_meter.recent_complete_days as varchar)
                || case when per_meter.recent_complete_days = 1 then ' complete local day' else ' complete local days' end
                || ' in the {{ var('forecast_history_days') }} days up to ' || cast(per_meter.last_complete_date as varchar)
                || ', forecasts need at least {{ var('forecast_min_days') }}'
        end as no_forecast_reason,
        per_meter.export_kwh
    from per_meter
    left join reading_anomalies on per_meter.meter_id = reading_anomalies.meter_id
    left join daily_anomalies on per_meter.meter_id = daily_anomalies.meter_id
    left join forecast on per_meter.meter_id = forecast.meter_id

),

-- each meter's row (grouped by its meter_id alone: the aggregates see that one row) and
-- the all-meters row (the empty grouping set of the rollup), from one pass
summary as (

    select
        grouping(meters.meter_id) = 1 as is_all,
        meters.meter_id,
        min(meters.period_start) as period_start,
        max(meters.period_end) as period_end,
        sum(meters.days) as meter_days,
        max(calendar.days) as calendar_days,
        sum(meters.total_kwh) as total_kwh,
        sum(meters.reading_anomalies) as reading_anomalies,
        sum(meters.daily_anomalies) as daily_anomalies,
        sum(meters.forecast_7d_kwh) as forecast_7d_kwh,
        sum(meters.forecast_7d_lower_kwh) as forecast_7d_lower_kwh,
        sum(meters.forecast_7d_upper_kwh) as forecast_7d_upper_kwh,
        max(meters.no_forecast_reason) as meter_no_forecast_reason,
        count(meters.no_forecast_reason) as meters_without_forecast,
        count(*) as meter_count,
        sum(meters.export_kwh) as export_kwh
    from meters
    cross join calendar
    group by rollup(meters.meter_id)

)

select
    case when is_all then 'all' else 'meter' end as scope,
    meter_id,
    period_start,
    period_end,
    cast(case when is_all then calendar_days else meter_days end as bigint) as days,
    total_kwh,
    {{ energy.fdiv('total_kwh', 'case when is_all then calendar_days else meter_days end') }} as daily_average_kwh,
    reading_anomalies,
    daily_anomalies,
    forecast_7d_kwh,
    forecast_7d_lower_kwh,
    forecast_7d_upper_kwh,
    case
        when not is_all then meter_no_forecast_reason
        when meters_without_forecast = meter_count then 'no meter has a forecast yet'
        when meters_without_forecast > 0
            then cast(meters_without_forecast as varchar) || ' of ' || cast(meter_count as varchar)
                || ' meters have no forecast (see their rows): the forecast covers the others'
    end as no_forecast_reason,
    export_kwh,
    total_kwh - export_kwh as net_kwh
from summary
