{#-
  Data tests on the reading-grain tables (tens of millions of rows a year) check only
  the rows this build wrote, when the build is incremental: a row written earlier was
  tested when it was written, and an incremental model replaces rows by their unique
  key, so new rows cannot break a rule together with old ones. Without the var (a full
  refresh, or a plain `dbt test`), every row is tested.

  Every data test carries the placeholder where-clause "__rows_of_this_build__"
  (dbt_project.yml); this override of dbt's get_where_subquery turns it into a filter on
  the build mark for the tables listed in var tests_on_new_rows_models, and drops it for
  every other table.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where == '__rows_of_this_build__' -%}
        {%- if var('test_new_rows_only', false) and relation.identifier in var('tests_on_new_rows_models') -%}
            {%- set where = 'dbt_loaded_at >= ' ~ energy.build_started_at() -%}
        {%- else -%}
            {%- set where = '' -%}
        {%- endif -%}
    {%- endif -%}
    {%- if where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}
