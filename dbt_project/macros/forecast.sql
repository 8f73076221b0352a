{#- One edge ('lower' or 'upper') of a forecast's band, unclamped. When `use_errors`
    holds, the band is the forecast plus the method's backtest error quantile;
    otherwise it is the seed's band, forecast -/+ var forecast_interval_stddevs x the
    stddev of the recent daily totals. Shared by fct_forecast and fct_forecast_accuracy
    so the band scored in the backtest is the band analysts get. -#}
{% macro forecast_band_edge(edge, forecast, ma_stddev, error_quantile, use_errors) -%}
  case
      when {{ use_errors }} then {{ forecast }} + {{ error_quantile }}
      else {{ forecast }} {{ '-' if edge == 'lower' else '+' }} {{ var('forecast_interval_stddevs') }} * coalesce({{ ma_stddev }}, 0)
  end
{%- endmacro %}

{#- The earliest of the meters' last origin days (int_forecast_calibration), for a
    model that needs only each meter's last origin: as a literal bound, the engine skips
    the older origins' rows before it expands them into points; a join to the last
    origins would expand them all first. None while parsing, in unit tests (their
    inputs are fixtures), before the calibration table exists (a first compile) and
    when there is no origin. -#}
{% macro earliest_last_origin_day(calibration) -%}
  {%- if not execute or model.resource_type != 'model' or load_relation(calibration) is none -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set query -%}
    select min(last_origin_day) from {{ calibration }}
  {%- endset -%}
  {{ return(energy.query_value(query)) }}
{%- endmacro %}
