{{ config(materialized='view') }}
{#- Daily totals per meter and flow: import for every meter, and export for every day of
    a meter that has ever fed in (a day without export readings is a real 0 then). The
    series the daily anomalies and the forecasts run on, per flow.

    When a meter first feeds in, its earlier days gain export rows: they carry the load
    mark of the meter's first export day (when later), so incremental models downstream
    take them in as new. -#}
{#- No meter has fed in yet: the import days only (energy.any_rows). -#}
{%- set has_export = energy.any_rows(ref('int_readings_aggregated_to_days'), ['export_reading_count > 0'])[0] -%}
with days as (

    select * from {{ ref('int_readings_aggregated_to_days') }}

),
{% if has_export %}
export_meters as (

    select meter_id, min(dbt_loaded_at) as first_export_loaded_at
    from days
    where export_reading_count > 0
    group by meter_id

),
{%- endif %}

import_days as (

    select
        meter_id,
        cast('import' as {{ energy.flow_type() }}) as flow,
        reading_date,
        total_kwh,
        reading_count,
        estimated_reading_count,
        is_complete,
        dbt_loaded_at
    from days

){% if has_export %},

export_days as (

    select
        days.meter_id,
        cast('export' as {{ energy.flow_type() }}) as flow,
        days.reading_date,
        days.export_kwh as total_kwh,
        days.export_reading_count as reading_count,
        days.export_estimated_reading_count as estimated_reading_count,
        days.is_complete,
        {{ energy.greatest_of('days.dbt_loaded_at', 'export_meters.first_export_loaded_at') }} as dbt_loaded_at
    from days
    inner join export_meters on export_meters.meter_id = days.meter_id

)

{%- endif %}

select * from import_days
{%- if has_export %}
union all
select * from export_days
{%- endif %}
