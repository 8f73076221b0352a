-- Data-quality failures: every upload and rule that failed, newest first.
select
    evaluated_at,
    source_key,
    expectation,
    level,
    unexpected_count,
    element_count,
    reason
from fct_data_quality
where not success
order by evaluated_at desc, unexpected_count desc;
