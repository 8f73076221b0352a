{{ config(materialized='view') }}
{#- Deprecated, removed in the next release: stg_dq__validations under its name of the
    release before (README, "Renamed tables and columns"). -#}
with validations as (

    select * from {{ ref('stg_dq__validations') }}

)

select
    ingest_id,
    source_key,
    expectation,
    level,
    success,
    element_count,
    unexpected_count,
    reason,
    evaluated_at
from validations
