{{ config(materialized='view') }}
{#- Every method's forecast from every origin for horizons 1..var forecast_horizon_days.
    What depends only on the origin (the weekday factors, the deseasonalised level) is
    computed once per origin, before the origins are expanded into horizons. -#}
with origins as (

    select * from {{ ref('int_forecast_origins') }}

),

factors as (

    -- 1 when the weekday has not been seen yet: fall back to the plain average
    select
        {%- for dow in range(1, 8) %}
        coalesce(origins.weekday_mean_{{ dow }} / nullif(origins.profile_mean, 0), 1.0) as weekday_factor_{{ dow }},
        {%- endfor %}
        origins.*
    from origins

),

weekday_levels as (

    {#- Each lookback day divided by its weekday's factor, then smoothed: the level of a
        week without its weekday pattern, so that an office's weekends do not pull its
        level down. A weekday whose factor is 0 (closed: its days are all 0) says nothing
        about the level and is left out of it. Holt-Winters' multiplicative seasonal
        index, with the level smoothed by the exponential weights (Hyndman &
        Athanasopoulos, Forecasting: Principles and Practice, 3rd ed., section 8.3). -#}
    select
        {%- for dow in range(1, 8) %}
        case when weekday_factor_{{ dow }} > 0 then coalesce(ewma_sum_{{ dow }}, 0) / weekday_factor_{{ dow }} else 0 end as level_sum_{{ dow }},
        case when weekday_factor_{{ dow }} > 0 then coalesce(ewma_weight_{{ dow }}, 0) else 0 end as level_weight_{{ dow }},
        {%- endfor %}
        factors.*
    from factors

),

deseasonalised as (

    select
        *,
        (
            level_sum_1 + level_sum_2 + level_sum_3 + level_sum_4 + level_sum_5 + level_sum_6 + level_sum_7
        ) / nullif(
            level_weight_1 + level_weight_2 + level_weight_3 + level_weight_4 + level_weight_5 + level_weight_6 + level_weight_7,
            0
        ) as deseasonalised_level
    from weekday_levels

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
        deseasonalised.*,
        horizons.horizon_days,
        {{ energy.add_days('deseasonalised.origin_date', 'horizons.horizon_days') }} as forecast_date
    from deseasonalised
    cross join horizons

),

with_weekday as (

    select
        *,
        case {{ energy.iso_day_of_week('forecast_date') }}
            {%- for dow in range(1, 8) %}
            when {{ dow }} then weekday_factor_{{ dow }}
            {%- endfor %}
        end as weekday_factor,
        case {{ energy.iso_day_of_week('forecast_date') }}
            {%- for dow in range(1, 8) %}
            when {{ dow }} then last_week_{{ dow }}
            {%- endfor %}
        end as last_week_same_weekday
    from targets

),

methods as (

    {%- set methods = {
        'moving_average': 'ma_mean',
        'moving_average_weekday': 'ma_mean * weekday_factor',
        'seasonal_naive': 'last_week_same_weekday',
        'exponential_smoothing': 'ewma',
        'exponential_smoothing_weekday': 'ewma * weekday_factor',
        'exponential_smoothing_deseasonalised': 'deseasonalised_level * weekday_factor',
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
    from with_weekday
    {{ "union all" if not loop.last }}
    {%- endfor %}

)

select *
from methods
where forecast_kwh is not null
