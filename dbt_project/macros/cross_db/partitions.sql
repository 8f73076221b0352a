{#- Table partitioning on the engines that have it (Trino and Athena Iceberg).
    Engine differences that change results silently: one macro each, a default__
    version and an engine version where the engine needs one. -#}

{#- Partitioning of the large tables by month of `column` (reading_start for the
    reading-grain tables, origin_date for the forecast origins and backtest errors):
    monthly Iceberg partitions on Athena and on Trino, so a query bounded by a literal
    on that column (every incremental build's reads of a window of history, and the
    delete of the rows it replaces) opens only the months it needs. Without them a full
    refresh writes files that each span the whole history, and no file statistic can
    skip one: the daily build read those tables in full. One write stays far below
    Athena's limit of 100 partitions per write (over 8 years of history fit in one load).
    DuckDB: none, its zone maps skip row groups already. dbt-athena takes the transform
    as partitioned_by, dbt-trino as the table property partitioning. `identity_columns`
    partition further by their values (the backtest errors by calibration phase); a
    write of more than Athena's 100 partitions, dbt-athena splits into batches. -#}
{% macro monthly_partitions(column, identity_columns=[]) -%}
  {{ return(['month(' ~ column ~ ')'] + identity_columns if target.type == 'athena' else none) }}
{%- endmacro %}

{% macro monthly_partition_properties(column, identity_columns=[]) -%}
  {%- set fields = ["'month(" ~ column ~ ")'"] -%}
  {%- for identity in identity_columns -%}
    {%- do fields.append("'" ~ identity ~ "'") -%}
  {%- endfor -%}
  {{ return({'partitioning': 'ARRAY[' ~ fields | join(', ') ~ ']'} if target.type == 'trino' else none) }}
{%- endmacro %}
