{#- The query of the unique_combination data test (tests/generic): every combination
    of `columns` that occurs more than once, with how often. -#}
{% macro default__unique_combination_sql(model, columns) -%}
select {{ columns }}, count(*) as occurrences
from {{ model }}
group by {{ columns }}
having count(*) > 1
{%- endmacro %}

{#- DuckDB: group on one 64-bit hash of the key first, then count by the real columns
    only the keys whose hash occurs more than once. On the 35M-row reading tables that
    is about a third faster than grouping on a string and a timestamp; a hash collision
    costs a little time, never a false failure, because the second step is exact. -#}
{% macro duckdb__unique_combination_sql(model, columns) -%}
with repeated_hashes as (

    select hash({{ columns }}) as key_hash
    from {{ model }}
    group by key_hash
    having count(*) > 1

)

select {{ columns }}, count(*) as occurrences
from {{ model }}
where hash({{ columns }}) in (select key_hash from repeated_hashes)
group by {{ columns }}
having count(*) > 1
{%- endmacro %}
