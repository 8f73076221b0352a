{#- Table maintenance of the warehouse's incremental Iceberg tables: each daily build
    deletes the rows it replaces and inserts their successors, which leaves small data
    files and delete files behind, and a snapshot per statement. Reads then open more
    files (Athena bills a read of a small file whole), and storage keeps every old
    snapshot's files. Run weekly by the dbt runner (a scheduled request in its queue, so
    it never overlaps a build) and by `energy maintain`:

        dbt run-operation maintain_tables --args '{retention_days: 7}'

    Trino: `optimize` (rewrites files below the target size, merging delete files in),
    `expire_snapshots` and `remove_orphan_files` older than retention_days (Trino's floor
    is 7 days). Athena: `OPTIMIZE … REWRITE DATA USING BIN_PACK` and `VACUUM` (snapshots
    older than the table's vacuum_max_snapshot_age_seconds, 5 days by default, and
    orphan files). DuckDB: nothing to do (one file, rewritten in place). -#}
{% macro maintain_tables(retention_days=7) -%}
  {%- set relations = energy.incremental_relations() -%}
  {%- for relation in relations -%}
    {%- for statement in adapter.dispatch('table_maintenance', 'energy')(relation, retention_days | int) -%}
      {%- do log('maintenance: ' ~ statement, info=true) -%}
      {%- do run_query(statement) -%}
    {%- endfor -%}
  {%- endfor -%}
  {%- do log('maintenance: ' ~ relations | length ~ ' incremental table(s) on ' ~ target.type, info=true) -%}
{%- endmacro %}

{#- The incremental models' tables that exist in the target. -#}
{% macro incremental_relations() -%}
  {%- set relations = [] -%}
  {%- for node in graph.nodes.values() | selectattr('resource_type', 'equalto', 'model') -%}
    {%- if node.config.materialized == 'incremental' -%}
      {%- set relation = adapter.get_relation(node.database, node.schema, node.alias) -%}
      {%- if relation is not none -%}
        {%- do relations.append(relation) -%}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(relations) }}
{%- endmacro %}

{% macro default__table_maintenance(relation, retention_days) -%}
  {{ return([]) }}
{%- endmacro %}

{% macro trino__table_maintenance(relation, retention_days) -%}
  {{ return([
      'alter table ' ~ relation ~ ' execute optimize',
      'alter table ' ~ relation ~ " execute expire_snapshots(retention_threshold => '" ~ retention_days ~ "d')",
      'alter table ' ~ relation ~ " execute remove_orphan_files(retention_threshold => '" ~ retention_days ~ "d')",
  ]) }}
{%- endmacro %}

{% macro athena__table_maintenance(relation, retention_days) -%}
  {{ return([
      'optimize ' ~ relation ~ ' rewrite data using bin_pack',
      'vacuum ' ~ relation,
  ]) }}
{%- endmacro %}
