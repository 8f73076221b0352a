{#- For an incremental model: the first day number (day_number) among the rows of
    `upstream` written since this table last took rows in (by the dbt_loaded_at build
    mark); none when nothing is new, or outside an incremental run. Models write it into
    their SQL with day_bound, as a literal every engine can prune on (DuckDB's zone maps,
    Trino's and Athena's partitions and row-group statistics), where a bound given as a
    subquery makes them read the whole table. -#}
{% macro first_new_day(upstream) -%}
  {%- if not (is_incremental() and execute) -%}
    {{ return(none) }}
  {%- endif -%}
  {%- if 'dbt_loaded_at' not in adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {#- a table from an older version of the model: the schema check rebuilds it -#}
    {{ return(none) }}
  {%- endif -%}
  {%- set query -%}
    select min(day_number)
    from {{ upstream }}
    where dbt_loaded_at > (select max(dbt_loaded_at) from {{ this }})
  {%- endset -%}
  {{ return(run_query(query).columns[0].values()[0]) }}
{%- endmacro %}

{#- `days_before` days before first_new_day's answer, as SQL: null (no rows pass a
    comparison with it) when nothing is new. -#}
{% macro day_bound(first_new_day, days_before=0) -%}
  {{ return('null' if first_new_day is none else (first_new_day | int) - days_before) }}
{%- endmacro %}

{#- The same bound as a reading_start (UTC) literal, for reads through the
    int_readings_local view, where day_number is computed and cannot prune: a local day
    starts at most 14 hours before UTC midnight, so one day earlier is always enough
    (the exact day_number bound still applies beside it). -#}
{% macro reading_start_bound(first_new_day, days_before=0) -%}
  {%- if first_new_day is none -%}
    {{ return('null') }}
  {%- endif -%}
  {%- set day = modules.datetime.date(1970, 1, 1) + modules.datetime.timedelta(days=(first_new_day | int) - days_before - 1) -%}
  {#- in the column's own type: DuckDB pushes a comparison with a timestamp of another
      precision into the scan only after the cast -#}
  {{ return("cast(timestamp '" ~ day.isoformat() ~ " 00:00:00' as " ~ energy.stored_timestamp() ~ ")") }}
{%- endmacro %}
