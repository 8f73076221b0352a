{#- Exact quantiles, the same on every engine (never approx_percentile).
    Engine differences that change results silently: one macro each, a default__
    version and an engine version where the engine needs one. -#}

{#- The p-quantile (linear interpolation, as numpy and quantile_cont) of `value` in a
    group, from columns `rank0` (0-based rank of value in its group) and `group_size`.
    Plain aggregates, so the same exact answer on every engine (Trino and Athena only
    have an approximate percentile). Use inside GROUP BY of the group. -#}
{% macro quantile_from_ranks(value, p, rank0='rank0', group_size='group_size') -%}
  {%- set position = p ~ ' * (max(' ~ group_size ~ ') - 1)' -%}
  (
    max(case when {{ rank0 }} = floor({{ p }} * ({{ group_size }} - 1)) then {{ value }} end)
    + ({{ position }} - floor({{ position }}))
      * coalesce(
          max(case when {{ rank0 }} = floor({{ p }} * ({{ group_size }} - 1)) + 1 then {{ value }} end)
          - max(case when {{ rank0 }} = floor({{ p }} * ({{ group_size }} - 1)) then {{ value }} end),
          0)
  )
{%- endmacro %}

{#- Exact p-quantiles per group: a CTE body that prepares `relation` (rows of
    `value` grouped by `group_by`), then exact_quantile(value, p) inside the GROUP BY.
    Null values are in no quantile (ranked last, not counted).
    DuckDB has an exact quantile aggregate; elsewhere the ranks come from a window
    (quantile_from_ranks), the costly part at scale, so DuckDB skips it. -#}
{% macro rank_for_quantiles(relation, group_by, value) -%}
  {{ return(adapter.dispatch('rank_for_quantiles', 'energy')(relation, group_by, value)) }}
{%- endmacro %}

{% macro default__rank_for_quantiles(relation, group_by, value) -%}
  select
      *,
      row_number() over (partition by {{ group_by }} order by {{ value }} nulls last) - 1 as rank0,
      count({{ value }}) over (partition by {{ group_by }}) as group_size
  from {{ relation }}
{%- endmacro %}

{% macro duckdb__rank_for_quantiles(relation, group_by, value) -%}
  select * from {{ relation }}
{%- endmacro %}

{% macro exact_quantile(value, p) -%}
  {{ return(adapter.dispatch('exact_quantile', 'energy')(value, p)) }}
{%- endmacro %}

{% macro default__exact_quantile(value, p) -%}
  {{ energy.quantile_from_ranks(value, p) }}
{%- endmacro %}

{#- Over a list rather than quantile_cont as an aggregate: at 25 million errors beside a
    concurrent model, that holistic aggregate spilled tens of GB to disk; a list is an
    ordinary aggregate state, shared by both quantiles of a group. -#}
{% macro duckdb__exact_quantile(value, p) -%}
  list_aggregate(list({{ value }}), 'quantile_cont', {{ p }})
{%- endmacro %}
