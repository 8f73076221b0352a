{{ config(materialized='view') }}
{#- Energy per meter and local day: the days int_readings_aggregated_to_days computes,
    under the name analysts query. A view: the days are stored (and tested) once. -#}
with days as (

    select * from {{ ref('int_readings_aggregated_to_days') }}

)

select * from days
