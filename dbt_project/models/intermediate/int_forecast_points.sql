{{ config(materialized='view') }}
{#- Every method's forecast from every origin for horizons 1..var forecast_horizon_days. -#}
with origins as (

    select * from {{ ref('int_forecast_origins') }}

),

horizons as (

    select horizon_list.horizon_days
    from (
        values
        {%- for h in range(1, var('forecast_horizon_days') + 1) %}
        ({{ h }}){{ ',' if not loop.last }}
        {%- endfor %}
    ) as horizon_list (horizon_days)

),

targets as (

    select
        origins.*,
        horizons.horizon_days,
        {{ energy.add_days('origins.origin_date', 'horizons.horizon_days') }} as forecast_date
    from origins
    cross join horizons

),

with_weekday as (

    select
        *,
        case {{ energy.iso_day_of_week('forecast_date') }}
            {%- for dow in range(1, 8) %}
            when {{ dow }} then weekday_mean_{{ dow }}
            {%- endfor %}
        end as weekday_mean,
        case {{ energy.iso_day_of_week('forecast_date') }}
            {%- for dow in range(1, 8) %}
            when {{ dow }} then last_week_{{ dow }}
            {%- endfor %}
        end as last_week_same_weekday
    from targets

),

factors as (

    select
        *,
        -- 1 when the weekday has not been seen yet: fall back to the plain average
        coalesce(weekday_mean / nullif(profile_mean, 0), 1.0) as weekday_factor
    from with_weekday

),

methods as (

    {%- set methods = {
        'moving_average': 'ma_mean',
        'moving_average_weekday': 'ma_mean * weekday_factor',
        'seasonal_naive': 'last_week_same_weekday',
        'exponential_smoothing': 'ewma',
        'exponential_smoothing_weekday': 'ewma * weekday_factor',
    } %}
    {%- for method, expression in methods.items() %}
    select
        meter_id,
        flow,
        origin_date,
        origin_day,
        lookback_days,
        ma_days,
        '{{ method }}' as method,
        horizon_days,
        forecast_date,
        {{ expression }} as forecast_kwh,
        ma_stddev
    from factors
    {{ "union all" if not loop.last }}
    {%- endfor %}

)

select *
from methods
where forecast_kwh is not null
