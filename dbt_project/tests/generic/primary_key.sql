{#- The columns are the table's key: no row has a null in any of them, and no
    combination occurs twice (dbt_constraints' primary_key test). One query instead of a
    uniqueness test and a not_null test per column: each test node costs a scan and
    dbt's overhead on every build. Fails with the offending keys and how often each
    occurs. -#}
{% test primary_key(model, columns) %}
{{ energy.key_violations_sql(model, columns, null_keys_fail=true) }}
{% endtest %}
