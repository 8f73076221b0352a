{#- For an incremental model: the smallest value of `column` among the rows of
    `upstream` written since this table last took rows in (by the dbt_loaded_at build
    mark), as a Python value; none when nothing is new, or outside an incremental run.
    Models turn it into a literal bound, which every engine can prune on (DuckDB's zone
    maps, Trino's and Athena's partitions and row-group statistics), where a bound
    given as a subquery makes them read the whole table. -#}
{% macro first_new_value(column, upstream) -%}
  {%- if not (is_incremental() and execute) -%}
    {{ return(none) }}
  {%- endif -%}
  {%- if 'dbt_loaded_at' not in adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {#- a table from an older version of the model: the schema check rebuilds it -#}
    {{ return(none) }}
  {%- endif -%}
  {%- set query -%}
    select min({{ column }})
    from {{ upstream }}
    where dbt_loaded_at > (select max(dbt_loaded_at) from {{ this }})
  {%- endset -%}
  {{ return(run_query(query).columns[0].values()[0]) }}
{%- endmacro %}
