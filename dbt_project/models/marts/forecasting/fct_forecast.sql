{#- The next var forecast_horizon_days days after each meter's last complete day, per
    flow (import, and export for meters that feed in), for every method, with a band, and is_selected on the method that backtests best.

    moving_average is the seed's: the mean of the last var forecast_history_days daily
    totals, band +/- var forecast_interval_stddevs sample standard deviations. The other
    methods' bands are the forecast plus the quantiles of their own backtest errors for
    the meter and horizon (calibrated weekly: int_forecast_calibration), so a 95% band
    holds about 95% of actuals; with fewer than var forecast_min_backtest errors they
    fall back to the moving average's band.
    Lower bounds are held at zero: energy use is not negative.
    A meter with fewer than var forecast_min_days complete days in the moving average's
    window at its last complete day gets no forecast (one day gives a band without
    spread); rpt_summary says why. -#}
{%- set use_errors = "live.method <> 'moving_average' and bands.errors >= " ~ var('forecast_min_backtest') -%}
{%- set preference = [
    'moving_average', 'exponential_smoothing', 'exponential_smoothing_weekday',
    'exponential_smoothing_deseasonalised', 'moving_average_weekday', 'seasonal_naive',
] -%}
{%- set earliest_last_origin_day = energy.earliest_last_origin_day(ref('int_forecast_calibration')) %}
with points as (

    select * from {{ ref('int_forecast_points') }}
    {%- if earliest_last_origin_day is not none %}
    where origin_day >= {{ earliest_last_origin_day }}
        -- the same bound on the partition column: the engines open only its months
        and origin_date >= date '{{ energy.date_of_day_number(earliest_last_origin_day) }}'
    {%- endif %}

),

last_origin as (

    select meter_id, flow, last_origin_date as last_complete_date
    from {{ ref('int_forecast_calibration') }}

),

live as (

    select points.*
    from points
    inner join last_origin
        on last_origin.meter_id = points.meter_id
        and last_origin.flow = points.flow
        and last_origin.last_complete_date = points.origin_date
    where points.ma_days >= {{ var('forecast_min_days') }}

),

bands as (

    select * from {{ ref('int_forecast_bands') }}
    where error_set = 'live'

),

accuracy as (

    select * from {{ ref('fct_forecast_accuracy') }}

),

method_scores as (

    select
        meter_id,
        flow,
        method,
        avg(mae) as mean_mae,
        min(forecast_count) as fewest_errors,
        case method
            {%- for method in preference %}
            when '{{ method }}' then {{ loop.index }}
            {%- endfor %}
        end as preference
    from accuracy
    group by meter_id, flow, method

),

ranked_methods as (

    select
        *,
        row_number() over (partition by meter_id, flow order by mean_mae, preference) as method_rank
    from method_scores
    where fewest_errors >= {{ var('forecast_min_backtest') }}
        and mean_mae is not null

),

selected as (

    select meter_id, flow, method
    from ranked_methods
    where method_rank = 1

),

banded as (

    select
        live.meter_id,
        live.flow,
        live.method,
        live.forecast_date,
        live.horizon_days,
        live.forecast_kwh,
        {{ energy.forecast_band_edge('lower', 'live.forecast_kwh', 'live.ma_stddev', 'bands.error_low_kwh', use_errors) }} as raw_lower_kwh,
        {{ energy.forecast_band_edge('upper', 'live.forecast_kwh', 'live.ma_stddev', 'bands.error_high_kwh', use_errors) }} as raw_upper_kwh,
        case when {{ use_errors }} then 'backtest_errors' else 'daily_stddev' end as band_source,
        live.origin_date as last_complete_date,
        cast(live.lookback_days as integer) as history_days
    from live
    left join bands
        on bands.meter_id = live.meter_id
        and bands.flow = live.flow
        and bands.method = live.method
        and bands.horizon_days = live.horizon_days

)

select
    banded.meter_id,
    banded.flow,
    banded.method,
    banded.forecast_date,
    cast(banded.horizon_days as integer) as horizon_days,
    banded.forecast_kwh,
    {{ energy.greatest_of(energy.least_of('banded.raw_lower_kwh', 'banded.forecast_kwh'), '0') }} as lower_kwh,
    {{ energy.greatest_of('banded.raw_upper_kwh', 'banded.forecast_kwh') }} as upper_kwh,
    coalesce(banded.method = selected.method, banded.method = 'moving_average' and selected.method is null) as is_selected,
    banded.band_source,
    banded.last_complete_date,
    banded.history_days,
    -- the name of the release before, kept for one release (README, "Renamed tables and columns")
    banded.band_source as interval_source
from banded
left join selected
    on selected.meter_id = banded.meter_id
    and selected.flow = banded.flow
