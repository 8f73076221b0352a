{#- Lookups a model makes while it compiles, whose answers it writes into its SQL. -#}

{#- The first value of the first row `sql` returns; none when it returns no row (as a
    compile against a stand-in that runs no SQL does). -#}
{% macro query_value(sql) -%}
  {%- set rows = run_query(sql).rows -%}
  {{ return(rows[0][0] if rows | length > 0 else none) }}
{%- endmacro %}

{#- Whether `relation` has `column`. An incremental model asks it of its own table
    before reading a column a newer version added: on a table from an older version it
    must not query the column, and the schema check then rebuilds the table. -#}
{% macro has_column(relation, column) -%}
  {{ return(column in adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list) }}
{%- endmacro %}

{#- For each of `conditions` (SQL over the columns of `relation`, e.g. "flow = 'export'"),
    whether any row of `relation` meets it: a list of booleans, from one query. Models ask
    it to leave out the work that export and estimated readings need when the lake holds
    none: the common import-only, measured lake then costs what it did before those
    columns existed, and the general SQL runs as soon as one such reading lands (it gives
    the same rows on a lake without them, so an incremental build still equals a full
    refresh). Each condition is a `limit 1` probe the engines answer from their
    statistics where they can (DuckDB's zone maps, Iceberg's column bounds): a lake
    without such readings is not read. All true when it cannot tell (parsing, unit tests,
    whose fixtures are not in the warehouse): the general SQL is right for any lake. -#}
{% macro any_rows(relation, conditions) -%}
  {%- set unknown = [true] * (conditions | length) -%}
  {%- if not execute or model.resource_type == 'unit_test' or load_relation(relation) is none -%}
    {{ return(unknown) }}
  {%- endif -%}
  {%- set query -%}
    select
    {%- for condition in conditions %}
        (select count(*) from (select 1 as found from {{ relation }} where {{ condition }} limit 1) as probe){{ ',' if not loop.last }}
    {%- endfor %}
  {%- endset -%}
  {%- set found = [] -%}
  {%- for count in run_query(query).rows[0] -%}
    {%- do found.append(count | int > 0) -%}
  {%- endfor -%}
  {{ return(found) }}
{%- endmacro %}

{#- The largest value of `column` in the Iceberg or DuckDB table `relation`, or none
    when it holds no row. On Trino and Athena it is read from the table's metadata (the
    column's upper bound in each partition's file statistics, the `$partitions` metadata
    table), not from its data: a whole-column scan would cost a daily build as much as
    the table's history. A bound is of the files' rows, deleted ones included; callers
    use it where that cannot matter (a replaced row's value is at most its replacement's). -#}
{% macro column_max(relation, column) -%}
  {{ return(adapter.dispatch('column_max', 'energy')(relation, column)) }}
{%- endmacro %}

{% macro default__column_max(relation, column) -%}
  {{ return(energy.query_value("select max(" ~ column ~ ") from " ~ relation)) }}
{%- endmacro %}

{% macro trino__column_max(relation, column) -%}
  {%- set metadata = relation.incorporate(path={'identifier': relation.identifier ~ '$partitions'}) -%}
  {{ return(energy.query_value("select max(data." ~ column ~ ".max) from " ~ metadata)) }}
{%- endmacro %}

{% macro athena__column_max(relation, column) -%}
  {{ return(energy.trino__column_max(relation, column)) }}
{%- endmacro %}
