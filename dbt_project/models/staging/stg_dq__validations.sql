with validations as (

    select * from {{ source('dq', 'validations') }}

)

select
    ingest_id,
    source_key,
    expectation,
    level,
    cast(success as boolean) as success,
    cast(element_count as bigint) as element_count,
    cast(unexpected_count as bigint) as unexpected_count,
    reason,
    cast(evaluated_at as {{ energy.stored_timestamp() }}) as evaluated_at
from validations
