{#- The queries of the unique_combination and primary_key data tests (tests/generic).

    unique_combination: every combination of `columns` that occurs more than once, with
    how often. primary_key: the same, and also every key with a null in any of its
    columns (a key of nulls is reported whatever its count). -#}
{% macro key_has_null(columns) -%}
({% for column in columns %}{{ column }} is null{% if not loop.last %} or {% endif %}{% endfor %})
{%- endmacro %}

{% macro default__unique_combination_sql(model, columns) -%}
select {{ columns }}, count(*) as occurrences
from {{ model }}
group by {{ columns }}
having count(*) > 1
{%- endmacro %}

{% macro default__primary_key_sql(model, columns) -%}
select {{ columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1 or {{ energy.key_has_null(columns) }}
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

{% macro duckdb__primary_key_sql(model, columns) -%}
{%- set key = columns | join(', ') -%}
with repeated_hashes as (

    select hash({{ key }}) as key_hash
    from {{ model }}
    group by key_hash
    having count(*) > 1

)

select {{ key }}, count(*) as occurrences
from {{ model }}
where hash({{ key }}) in (select key_hash from repeated_hashes) or {{ energy.key_has_null(columns) }}
group by {{ key }}
having count(*) > 1 or {{ energy.key_has_null(columns) }}
{%- endmacro %}
