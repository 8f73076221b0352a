{% test unique_combination(model, columns) %}
{{ adapter.dispatch('unique_combination_sql', 'energy')(model, columns | join(', ')) }}
{% endtest %}
