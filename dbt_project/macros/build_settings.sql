{#-
  Incremental tables keep the rows earlier builds computed. When a setting that decides
  those rows changes (an anomaly var, a forecast var, or a release that changes a rule),
  an incremental build would add rows computed the new way beside rows computed the old
  way: numbers that look right and are not. The model `build_settings` records the
  settings of the last build; at the start of every run `check_build_settings` compares
  them with the current ones and refuses an incremental build of a table that holds rows
  computed otherwise. `energy build` then rebuilds the warehouse with a full refresh, as
  it does after a schema change; a dbt user runs with --full-refresh.
-#}

{#- Bump when a change to the models alters what an incremental table stores for the
    same vars (2026.12: the default anomaly method became iqr). -#}
{% macro models_version() -%}2026.12{%- endmacro %}

{#- The vars the incremental models' stored rows depend on (the others decide tables
    rebuilt whole on every build, or only what a run tests). -#}
{% macro recorded_vars() -%}
  {{ return([
      'anomaly_method', 'anomaly_window', 'anomaly_baseline_days', 'anomaly_min_baseline',
      'anomaly_iqr_k', 'anomaly_z_threshold', 'anomaly_robust_z_threshold', 'anomaly_direction',
      'anomaly_include_estimated', 'complete_day_share',
      'forecast_history_days', 'forecast_horizon_days', 'forecast_ewma_alpha', 'forecast_ewma_days',
      'forecast_weekday_profile_weeks', 'forecast_min_history_days', 'forecast_interval_stddevs',
      'forecast_interval_level', 'forecast_band_days', 'forecast_calibration_days',
      'forecast_calibration_stagger',
      'level_shift_share', 'level_shift_baseline_weeks', 'level_shift_min_baseline_weeks',
  ]) }}
{%- endmacro %}

{#- The current settings: a dict of setting name to its value as text. -#}
{% macro current_build_settings() -%}
  {%- set settings = {'models_version': energy.models_version() | string} -%}
  {%- for name in energy.recorded_vars() -%}
    {%- do settings.update({name: var(name) | string | lower}) -%}
  {%- endfor -%}
  {{ return(settings) }}
{%- endmacro %}

{#- on-run-start: raise when this run would build an incremental table incrementally
    over rows computed with other settings. Nothing to check on a full refresh, when no
    incremental model is selected, or when none of their tables exists yet. Raises a
    compiler error naming the changed settings (the message starts "energy: the
    incremental tables were built", which `energy build` recognises). -#}
{% macro check_build_settings() -%}
  {%- if not execute or flags.FULL_REFRESH -%}
    {{ return('') }}
  {%- endif -%}
  {%- set built = [] -%}
  {%- set recorder = [] -%}
  {%- for node in graph.nodes.values() if node.resource_type == 'model' -%}
    {%- if node.name == 'build_settings' -%}
      {%- do recorder.append(node) -%}
    {%- elif node.config.materialized == 'incremental' and node.unique_id in selected_resources -%}
      {%- if adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias) is not none -%}
        {%- do built.append(node.name) -%}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if built | length == 0 or recorder | length == 0 -%}
    {{ return('') }}
  {%- endif -%}
  {%- set node = recorder[0] -%}
  {%- set relation = adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias) -%}
  {%- set fix = 'Rebuild them with `energy build --full-refresh` (dbt: --full-refresh); `energy build` does so by itself.' -%}
  {%- if relation is none -%}
    {{ exceptions.raise_compiler_error(
        'energy: the incremental tables were built by an earlier release, which recorded no settings ('
        ~ built | join(', ') ~ '): adding rows to them could mix rules. ' ~ fix) }}
  {%- endif -%}
  {%- set recorded = {} -%}
  {%- for row in run_query('select setting, setting_value from ' ~ relation).rows -%}
    {%- do recorded.update({row[0]: row[1]}) -%}
  {%- endfor -%}
  {%- set changed = [] -%}
  {%- for name, value in energy.current_build_settings().items() -%}
    {%- if recorded.get(name) != value -%}
      {%- do changed.append(name ~ ' ' ~ (recorded.get(name) or 'unrecorded') ~ ' -> ' ~ value) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if changed | length > 0 -%}
    {{ exceptions.raise_compiler_error(
        'energy: the incremental tables were built with other settings (' ~ changed | join('; ')
        ~ '): adding rows to them would mix rows computed both ways. ' ~ fix) }}
  {%- endif -%}
  {{ return('') }}
{%- endmacro %}
