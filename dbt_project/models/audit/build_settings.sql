{{ config(materialized='table') }}
{#- The settings this build computed the incremental tables with, one row per setting
    (macros/build_settings.sql): the next run compares them with its own before it adds
    rows to those tables. -#}
with settings as (

    {%- for name, value in energy.current_build_settings().items() %}
    select
        cast('{{ name }}' as varchar) as setting,
        cast('{{ value }}' as varchar) as setting_value
    {{ 'union all' if not loop.last }}
    {%- endfor %}

)

select
    setting,
    setting_value,
    {{ energy.build_started_at() }} as recorded_at
from settings
