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
  {#- union_by_name gives files without a column nulls in it; the empty relation beside
      them keeps the contract's later columns (flow, quality, quality_code) in the view
      when every file predates them. -#}
  create or replace view lake.readings as
    select * from read_parquet('{{ home }}/lake/readings/*/*.parquet', hive_partitioning = true, union_by_name = true)
    union all by name
    select
        cast(null as varchar) as flow,
        cast(null as varchar) as quality,
        cast(null as varchar) as quality_code
    where false;
  create schema if not exists dq;
  create or replace view dq.validations as
    select * from read_parquet('{{ home }}/dq/validations/*/*.parquet', hive_partitioning = true, union_by_name = true);
{%- endmacro %}

{#- Trino: the lake's Parquet folders as external Hive tables, partitioned by ingest
    date, in the schema <target schema>_lake, with partitions synced from storage at the
    start of every run (Trino has no partition projection). The workspace as Trino sees
    it: ENERGY_LAKE_LOCATION when set (s3://bucket), else ENERGY_TRINO_LOCAL_LAKE, which
    `energy build` sets to its path on the server's local file system (local:///path below
    the root the server is confined to, TRINO_LOCAL_ROOT). -#}
{% macro trino__register_lake_views() -%}
  {%- if execute -%}
    {%- set catalog = env_var('TRINO_LAKE_CATALOG', 'hive') -%}
    {%- set root = env_var('ENERGY_LAKE_LOCATION', '') or env_var('ENERGY_TRINO_LOCAL_LAKE', '') -%}
    {%- if not root -%}
      {%- do exceptions.raise_compiler_error(
          "where is the lake? Run the trino target through `energy build --target trino`, "
          "or set ENERGY_LAKE_LOCATION to the workspace as Trino sees it (s3://bucket, or "
          "local:///path below the server's TRINO_LOCAL_ROOT)") -%}
    {%- endif -%}
    {#- one slash before the folders, whether the location ends in one (local:/// is the
        server's root itself) or not -#}
    {%- set root = root if root.endswith('/') else root ~ '/' -%}
    {%- set schema = target.schema ~ '_lake' -%}
    {%- set tables = [
        ('readings', root ~ 'lake/readings', [
            'meter_id varchar', 'reading_start timestamp(3)', 'interval_minutes integer',
            'kwh double', 'timezone varchar', 'flow varchar', 'quality varchar', 'quality_code varchar',
            'source_key varchar', 'source_row bigint',
            'ingest_id varchar', 'ingested_at timestamp(3)']),
        ('validations', root ~ 'dq/validations', [
            'ingest_id varchar', 'source_key varchar', 'expectation varchar', 'level varchar',
            'success boolean', 'element_count bigint', 'unexpected_count bigint',
            'reason varchar', 'evaluated_at timestamp(3)']),
    ] -%}
    {%- do run_query('create schema if not exists ' ~ catalog ~ '.' ~ schema) -%}
    {%- for table, location, columns in tables %}
      {#- Re-created every run (dropping an external table leaves its files alone), so
          it always points at the current workspace. -#}
      {%- do run_query('drop table if exists ' ~ catalog ~ '.' ~ schema ~ '.' ~ table) -%}
      {%- do run_query(
          'create table ' ~ catalog ~ '.' ~ schema ~ '.' ~ table
          ~ ' (' ~ columns | join(', ') ~ ', ingest_date date)'
          ~ " with (format = 'PARQUET', partitioned_by = array['ingest_date'], external_location = '"
          ~ location ~ "')") -%}
      {%- do run_query("call " ~ catalog ~ ".system.sync_partition_metadata('" ~ schema ~ "', '" ~ table ~ "', 'FULL')") -%}
    {%- endfor -%}
  {%- endif -%}
{%- endmacro %}
