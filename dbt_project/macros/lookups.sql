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
