{#-
  The lake as relations the models read as sources. On Trino and Athena the lake is an
  external table in the Hive / Glue catalog, made by the infrastructure; on DuckDB the
  sources are views over the Parquet files in the local lake folder, made at the start
  of every run so they always point at the current ENERGY_HOME.
-#}
{% macro register_lake_views() -%}
  {{ return(adapter.dispatch('register_lake_views', 'energy')()) }}
{%- endmacro %}

{% macro default__register_lake_views() -%}
{%- endmacro %}

{% macro duckdb__register_lake_views() -%}
  {%- set home = env_var('ENERGY_HOME', 'workspace') -%}
  create schema if not exists lake;
  create or replace view lake.readings as
    select * from read_parquet('{{ home }}/lake/readings/*/*.parquet', hive_partitioning = true, union_by_name = true);
  create schema if not exists dq;
  create or replace view dq.validations as
    select * from read_parquet('{{ home }}/dq/validations/*/*.parquet', hive_partitioning = true, union_by_name = true);
{%- endmacro %}
