{#- Forecast calibration (int_forecast_calibration): the bands and the accuracy are
    computed from the backtest errors of forecast days before each meter's
    calibrated_before, so between two calibration days they do not change, and an
    incremental build leaves them alone. -#}

{#- For an incremental int_forecast_bands or fct_forecast_accuracy, the meters to
    compute again (every flow of them), because for one of their flows
    - its calibration day moved (a new block began), or
    - a daily total before its stored calibration day is new or changed since the
      table last took rows in (a late or corrected upload), or
    - the table has no rows for the meter (a new meter, or too little history for an
      error before its calibration day) and it has new daily totals.
    Returns 'all' outside an incremental run, 'none' when no meter qualifies, and
    otherwise a query of their meter_id; meter_filter writes it into the SQL. The count
    goes to dbt's log. -#}
{% macro recalibrating_meters(calibration, daily_series) -%}
  {%- if not (is_incremental() and execute) -%}
    {{ return('all') }}
  {%- endif -%}
  {%- if not (energy.has_column(this, 'calibrated_before') and energy.has_column(this, 'flow')) -%}
    {{ return('all') }}
  {%- endif -%}
  {%- set meters -%}
    select distinct calibration.meter_id
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
        from {{ daily_series }}
        where {{ energy.loaded_since_this() }}
        group by meter_id, flow
    ) as changed
        on changed.meter_id = calibration.meter_id
        and changed.flow = calibration.flow
    where stored.calibrated_before <> calibration.calibrated_before
        or changed.first_changed_date < stored.calibrated_before
        or (stored.meter_id is null and changed.meter_id is not null)
  {%- endset -%}
  {%- set count = energy.query_value('select count(*) from (' ~ meters ~ ') as recalibrating') or 0 -%}
  {%- do log(this.identifier ~ ': ' ~ count ~ ' meter(s) to calibrate again') -%}
  {{ return('none' if count == 0 else meters) }}
{%- endmacro %}

{#- recalibrating_meters' answer as a filter on `column`. For no meter it is the literal
    false, so the engine reads no backtest error at all. -#}
{% macro meter_filter(column, recalibrating) -%}
  {%- if recalibrating == 'all' -%}
    {{ return('true') }}
  {%- elif recalibrating == 'none' -%}
    {{ return('false') }}
  {%- endif -%}
  {{ return(column ~ ' in (' ~ recalibrating ~ ')') }}
{%- endmacro %}

{#- The unique key of a table recomputed a meter at a time. delete+insert (DuckDB,
    Trino) replaces all of a recomputed meter's rows; Athena's MERGE matches whole rows,
    so it takes the row key. -#}
{% macro recalibration_key(row_key) -%}
  {{ return(row_key if target.type == 'athena' else ['meter_id']) }}
{%- endmacro %}
