{#- Every row must satisfy every rule: `rules` maps a rule's name to a boolean SQL
    expression over the row, and a null counts as broken (as dbt's not_null would say).
    One test and one scan for all of a model's row-level rules, not one test node per
    rule: each node costs a query and dbt's own overhead on every build. Failing rows are
    returned whole, with broken_rules naming the rules each one breaks.

    Example: row_rules: {arguments: {rules: {kwh_not_negative: "kwh >= 0"}}} -#}
{% test row_rules(model, rules) %}
with rows_under_test as (

    select * from {{ model }}

)

select
    concat_ws(', '
        {%- for name, expression in rules.items() %},
        case when not coalesce(({{ expression }}), false) then '{{ name }}' end
        {%- endfor %}
    ) as broken_rules,
    rows_under_test.*
from rows_under_test
-- the rules again as plain booleans: the names are built only for the failing rows,
-- not for every row of a 35M-row table
where not (
    {%- for name, expression in rules.items() %}
    coalesce(({{ expression }}), false){% if not loop.last %} and{% endif %}
    {%- endfor %}
)
{% endtest %}
