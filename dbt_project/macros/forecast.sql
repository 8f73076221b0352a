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
