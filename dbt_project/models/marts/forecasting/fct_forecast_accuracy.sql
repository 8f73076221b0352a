{{
    config(
        materialized='incremental',
        unique_key=energy.recalibration_key(['meter_id', 'flow', 'method', 'horizon_days']),
        on_schema_change='fail',
    )
}}
{#- How well each method forecast each meter and flow, per horizon, over the rolling-origin
    backtest: MAE, MAPE, MASE (MAE against the in-sample error of a same-weekday-last-week
    forecast), bias, RMSE, and the share of actuals inside the band (bands calibrated on
    the older half of the origins, scored on the newer half). All of it from the days
    before the meter's calibration day (int_forecast_calibration).

    Incremental: only the meters whose calibration day moved, or whose history before
    it changed, are computed again (energy.recalibrating_meters): each day, the meters
    of one calibration phase. -#}
{%- set use_errors = "errors.method <> 'moving_average'" -%}
{%- set recalibrating = energy.recalibrating_meters(ref('int_forecast_calibration'), ref('int_daily_flows')) -%}
with errors as (

    select * from {{ ref('int_forecast_backtest') }}
    where {{ energy.meter_filter('meter_id', recalibrating, 'calibration_phase') }}

),

period_bands as (

    select * from {{ ref('int_forecast_bands') }}
    where error_set = 'period'
        and {{ energy.meter_filter('meter_id', recalibrating) }}

),

calibration as (

    select * from {{ ref('int_forecast_calibration') }}

),

series as (

    select series.*
    from {{ ref('int_daily_series') }} as series
    inner join calibration
        on calibration.meter_id = series.meter_id
        and calibration.flow = series.flow
        and series.reading_date < calibration.calibrated_before
    where {{ energy.meter_filter('series.meter_id', recalibrating) }}

),

-- each complete day beside the same weekday's total a week before (a window: one read
-- of the daily totals, where a self-join read them twice on Trino and Athena)
week_pairs as (

    select
        meter_id,
        flow,
        day_number,
        total_kwh,
        lag(day_number) over same_weekday as last_week_day,
        lag(total_kwh) over same_weekday as last_week_kwh
    from series
    window same_weekday as (partition by meter_id, flow, day_of_week order by day_number)

),

naive_scale as (

    select
        meter_id,
        flow,
        avg(abs(total_kwh - last_week_kwh)) as naive_mae
    from week_pairs
    where last_week_day = day_number - 7
    group by meter_id, flow

),

banded as (

    select
        errors.*,
        {%- set lower_edge = energy.forecast_band_edge('lower', 'errors.forecast_kwh', 'errors.ma_stddev', 'period_bands.error_low_kwh', use_errors) %}
        {{ energy.greatest_of(lower_edge, '0') }} as lower_kwh,
        {{ energy.forecast_band_edge('upper', 'errors.forecast_kwh', 'errors.ma_stddev', 'period_bands.error_high_kwh', use_errors) }} as upper_kwh,
        errors.period > 0 as scored_for_coverage
    from errors
    -- the bands of the period before: only errors known before these origins
    left join period_bands
        on period_bands.meter_id = errors.meter_id
        and period_bands.flow = errors.flow
        and period_bands.method = errors.method
        and period_bands.horizon_days = errors.horizon_days
        and period_bands.period = errors.period - 1

),

scores as (

    select
        banded.meter_id,
        banded.flow,
        banded.method,
        banded.horizon_days,
        cast(count(*) as integer) as forecast_count,
        avg(abs(banded.error_kwh)) as mae,
        100 * avg(case when banded.actual_kwh > 0 then abs(banded.error_kwh) / banded.actual_kwh end) as mape,
        avg(abs(banded.error_kwh)) / nullif(max(naive_scale.naive_mae), 0) as mase,
        avg(banded.error_kwh) as bias,
        sqrt(avg(banded.error_kwh * banded.error_kwh)) as rmse,
        -- 1e0, a double: Trino averages a decimal 1.0 as a decimal, rounded to one digit
        avg(
            case
                when banded.scored_for_coverage and banded.lower_kwh is not null
                    then case when banded.actual_kwh between banded.lower_kwh and banded.upper_kwh then 1e0 else 0e0 end
            end
        ) as band_coverage,
        cast(count(case when banded.scored_for_coverage and banded.lower_kwh is not null then 1 end) as integer) as band_coverage_count,
        -- how wide the scored bands are: a band covers more by being wider
        avg(case when banded.scored_for_coverage then banded.upper_kwh - banded.lower_kwh end) as band_width_kwh,
        -- one per meter and flow
        max(banded.calibrated_before) as calibrated_before,
        {{ energy.build_started_at() }} as dbt_loaded_at
    from banded
    left join naive_scale
        on naive_scale.meter_id = banded.meter_id
        and naive_scale.flow = banded.flow
    group by banded.meter_id, banded.flow, banded.method, banded.horizon_days

)

select
    meter_id,
    flow,
    method,
    horizon_days,
    forecast_count,
    mae,
    mape,
    mase,
    bias,
    rmse,
    band_coverage,
    band_coverage_count,
    band_width_kwh,
    calibrated_before,
    dbt_loaded_at,
    -- the names of the release before, kept for one release (README, "Renamed tables and columns")
    forecast_count as n,
    band_coverage as interval_coverage,
    band_coverage_count as coverage_n
from scores
