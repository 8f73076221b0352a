{#- Arithmetic the engines do differently: integer division, and greatest/least with nulls.
    Engine differences that change results silently: one macro each, a default__
    version and an engine version where the engine needs one. -#}

{#- Division that is always floating point (Trino divides integers as integers). -#}
{% macro fdiv(numerator, denominator) -%}
  (cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0))
{%- endmacro %}

{#- greatest / least of two values, NULL when either is NULL (DuckDB's own skip NULLs,
    Trino's and Athena's return NULL: a missing band edge must stay missing). -#}
{% macro greatest_of(a, b) -%}
  {{ return(adapter.dispatch('null_strict_extreme', 'energy')('greatest', a, b)) }}
{%- endmacro %}

{% macro least_of(a, b) -%}
  {{ return(adapter.dispatch('null_strict_extreme', 'energy')('least', a, b)) }}
{%- endmacro %}

{% macro default__null_strict_extreme(function, a, b) -%}
  {{ function }}({{ a }}, {{ b }})
{%- endmacro %}

{% macro duckdb__null_strict_extreme(function, a, b) -%}
  case when ({{ a }}) is not null and ({{ b }}) is not null then {{ function }}({{ a }}, {{ b }}) end
{%- endmacro %}
