{#- Query shapes the engines plan differently: inlined CTEs, and a group's span in one read.
    Engine differences that change results silently: one macro each, a default__
    version and an engine version where the engine needs one. -#}

{#- Before a CTE's body: read it again for each use rather than materialize it. DuckDB
    may hold a CTE used twice in memory (all 35M readings in stg_lake__readings, slower than
    scanning the Parquet twice); Trino and Athena always inline CTEs. -#}
{% macro inline_cte() -%}
  {{ return(adapter.dispatch('inline_cte', 'energy')()) }}
{%- endmacro %}

{% macro default__inline_cte() -%}
{%- endmacro %}

{% macro duckdb__inline_cte() -%}
  not materialized
{%- endmacro %}

{#- Every row of `relation` with the smallest and the largest `value` of its group
    (`group_by`, a column list) beside it, as `first_name` and `last_name`: windows
    without an order, one read of `relation` on every engine. Trino and Athena inline a
    CTE at each use, so an aggregate joined back read it twice (and Athena bills each
    read). On DuckDB 2 the windows are also faster than the aggregate joined back (0.12 s
    against 0.31 s over 3.6M backtest errors), and a filter on a `group_by` column
    reaches the read below them; the join did not take it into the aggregate's side. -#}
{% macro with_group_span(relation, group_by, value, first_name, last_name) -%}
    select
        {{ relation }}.*,
        min({{ value }}) over (partition by {{ group_by }}) as {{ first_name }},
        max({{ value }}) over (partition by {{ group_by }}) as {{ last_name }}
    from {{ relation }}
{%- endmacro %}
