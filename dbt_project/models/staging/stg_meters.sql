with meters as (

    select * from {{ ref('meters') }}

)

select
    meter_id,
    site,
    nullif(trim(timezone), '') as timezone,
    description
from meters
