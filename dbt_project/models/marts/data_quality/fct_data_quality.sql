{#- One row per upload and expectation: the queryable history of data quality. -#}
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
    {{ energy.fdiv('unexpected_count', 'element_count') }} as unexpected_share,
    reason,
    evaluated_at
from validations
