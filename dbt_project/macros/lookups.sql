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
