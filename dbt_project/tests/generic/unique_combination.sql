{#- No combination of `columns` occurs twice (nulls allowed: rpt_summary's all-meters
    row has no meter). Fails with the repeated keys and how often each occurs. -#}
{% test unique_combination(model, columns) %}
{{ energy.key_violations_sql(model, columns, null_keys_fail=false) }}
{% endtest %}
