{#- Forecast calibration (int_forecast_calibration): the bands and the accuracy are
    computed from the backtest errors of forecast days before each meter's
    calibrated_before, so between two calibration days they do not change, and an
    incremental build leaves them alone. -#}

{#- A meter's calibration phase, 0 to var forecast_calibration_days - 1: the day of the
    block its calibration day falls on (0: Monday-aligned weeks). With var
    forecast_calibration_stagger (the default) it is taken from the MD5 of the meter id,
    so each daily build calibrates about one block's-length share of the meters again
    instead of all of them on one day of the block. The backtest errors are partitioned
    on it, so that day's queries open only that share of the errors: what one query
    reads is bounded by the meters of one phase, not the whole fleet (Athena's per-query
    cutoff). The same on every engine: the first 28 bits of the MD5 digest, modulo the
    block. Without the stagger, 0 for every meter. -#}
{% macro calibration_phase(meter_id) -%}
  {%- set block = var('forecast_calibration_days') | int -%}
  {%- if block <= 1 or not var('forecast_calibration_stagger') -%}
    {{ return('0') }}
  {%- endif -%}
  {{ return(adapter.dispatch('calibration_phase', 'energy')(meter_id, block)) }}
{%- endmacro %}

{% macro default__calibration_phase(meter_id, block) -%}
  cast(from_base(substr(to_hex(md5(to_utf8({{ meter_id }}))), 1, 7), 16) % {{ block }} as integer)
{%- endmacro %}

{% macro duckdb__calibration_phase(meter_id, block) -%}
  cast(cast('0x' || substr(md5({{ meter_id }}), 1, 7) as bigint) % {{ block }} as integer)
{%- endmacro %}

{#- For an incremental int_forecast_bands or fct_forecast_accuracy, the meters to
    compute again (every flow of them), because for one of their flows
    - its calibration day moved (a new block began: with the stagger, for the meters
      of one calibration phase a day), or
    - a daily total (complete or not) before its stored calibration day is new or changed since the
      table last took rows in (a late or corrected upload), or
    - the table has no rows for the meter (a new meter, or too little history for an
      error before its calibration day) and it has new daily totals.
    Returns 'all' outside an incremental run, 'none' when no meter qualifies, and
    otherwise {'meters': a query of their meter_id, 'phases': their calibration phases};
    meter_filter writes it into the SQL. The count goes to dbt's log. -#}
{% macro recalibrating_meters(calibration, daily_totals) -%}
  {%- if not (is_incremental() and execute) -%}
    {{ return('all') }}
  {%- endif -%}
  {%- if not (energy.has_column(this, 'calibrated_before') and energy.has_column(this, 'flow')) -%}
    {{ return('all') }}
  {%- endif -%}
  {%- set meters -%}
    select distinct calibration.meter_id, calibration.calibration_phase
    from {{ calibration }} as calibration
    left join (
        select meter_id, flow, max(calibrated_before) as calibrated_before
        from {{ this }}
        group by meter_id, flow
    ) as stored
        on stored.meter_id = calibration.meter_id
        and stored.flow = calibration.flow
    left join (
        select meter_id, flow, min(reading_date) as first_changed_date
        from {{ daily_totals }}
        where {{ energy.loaded_since_this() }}
        group by meter_id, flow
    ) as changed
        on changed.meter_id = calibration.meter_id
        and changed.flow = calibration.flow
    where stored.calibrated_before <> calibration.calibrated_before
        or changed.first_changed_date < stored.calibrated_before
        or (stored.meter_id is null and changed.meter_id is not null)
  {%- endset -%}
  {%- set per_phase = run_query('select calibration_phase, count(*) from (' ~ meters ~ ') as recalibrating group by calibration_phase order by calibration_phase').rows -%}
  {%- set phases = [] -%}
  {%- set counts = [] -%}
  {%- for row in per_phase -%}
    {%- do phases.append(row[0] | int) -%}
    {%- do counts.append(row[1] | int) -%}
  {%- endfor -%}
  {%- set count = counts | sum -%}
  {%- do log(this.identifier ~ ': ' ~ count ~ ' meter(s) to calibrate again, of calibration phase(s) ' ~ phases) -%}
  {{ return('none' if count == 0 else {'meters': 'select meter_id from (' ~ meters ~ ') as recalibrating', 'phases': phases}) }}
{%- endmacro %}

{#- recalibrating_meters' answer as a filter on `column` and, where the relation carries
    it (the backtest errors, partitioned on it), on `phase_column` as a literal list:
    the engines then open only those phases' partitions. For no meter it is the literal
    false, so the engine reads no backtest error at all. -#}
{% macro meter_filter(column, recalibrating, phase_column=none) -%}
  {%- if recalibrating == 'all' -%}
    {{ return('true') }}
  {%- elif recalibrating == 'none' -%}
    {{ return(energy.nothing_new()) }}
  {%- endif -%}
  {%- set filter = column ~ ' in (' ~ recalibrating.meters ~ ')' -%}
  {%- if phase_column -%}
    {%- set filter = filter ~ ' and ' ~ phase_column ~ ' in (' ~ recalibrating.phases | join(', ') ~ ')' -%}
  {%- endif -%}
  {{ return(filter) }}
{%- endmacro %}

{#- The unique key of a table recomputed a meter at a time. delete+insert (DuckDB,
    Trino) replaces all of a recomputed meter's rows; Athena's MERGE matches whole rows,
    so it takes the row key. -#}
{% macro recalibration_key(row_key) -%}
  {{ return(row_key if target.type == 'athena' else ['meter_id']) }}
{%- endmacro %}
