{#- True when the z-score passes the threshold in the configured direction
    (var anomaly_direction: both, high or low); false when there is no z-score. -#}
{% macro is_anomaly(z) -%}
  {%- set threshold = var('anomaly_z_threshold') -%}
  {%- set direction = var('anomaly_direction') -%}
  {%- if direction == 'high' -%}
    coalesce({{ z }} > {{ threshold }}, false)
  {%- elif direction == 'low' -%}
    coalesce({{ z }} < -{{ threshold }}, false)
  {%- elif direction == 'both' -%}
    coalesce(abs({{ z }}) > {{ threshold }}, false)
  {%- else -%}
    {{ exceptions.raise_compiler_error("var anomaly_direction must be both, high or low, not " ~ direction) }}
  {%- endif -%}
{%- endmacro %}
