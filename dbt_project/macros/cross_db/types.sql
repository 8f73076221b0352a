{#- Column types and build timestamps as each engine stores them.
    Engine differences that change results silently: one macro each, a default__
    version and an engine version where the engine needs one. -#}

{#- When this build started, as a timestamp: marks the rows an incremental run wrote,
    so the next model (or the next run, after a failure) knows what is new to it. -#}
{% macro build_started_at() -%}
  cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp(6))
{%- endmacro %}

{#- The type of stored timestamp columns. Iceberg tables (the models on Trino and
    Athena) hold microseconds, timestamp(6); DuckDB keeps the lake's milliseconds. -#}
{% macro stored_timestamp() -%}
  {{ return(adapter.dispatch('stored_timestamp', 'energy')()) }}
{%- endmacro %}

{% macro default__stored_timestamp() -%}
  timestamp(6)
{%- endmacro %}

{% macro duckdb__stored_timestamp() -%}
  timestamp(3)
{%- endmacro %}

{#- The type of a stored code column (flow, quality) of the reading-grain tables, whose
    values are `values`. DuckDB: an ENUM of them, a byte per row; as text it made writing
    the two columns cost 8% of fct_reading_anomalies at 35M readings. Comparisons with
    text work as with varchar (flow = 'export'; a value outside the list matches
    nothing), and the values are declared in text order, so ORDER BY, min and max give
    what they give on varchar. Elsewhere varchar (Iceberg has no enum). -#}
{% macro code_type(values) -%}
  {{ return(adapter.dispatch('code_type', 'energy')(values)) }}
{%- endmacro %}

{% macro default__code_type(values) -%}
  varchar
{%- endmacro %}

{% macro duckdb__code_type(values) -%}
  enum({% for value in values | sort %}'{{ value }}'{{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}

{#- The stored types of flow and quality (code_type of their codes). -#}
{% macro flow_type() -%}
  {{ return(energy.code_type(['import', 'export'])) }}
{%- endmacro %}

{% macro quality_type() -%}
  {{ return(energy.code_type(['measured', 'estimated', 'missing'])) }}
{%- endmacro %}
