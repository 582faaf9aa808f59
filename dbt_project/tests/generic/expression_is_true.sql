{#- Every row satisfies a boolean SQL expression (an accounting identity, an order of
    components...). Rows where it is false fail; rows where it is NULL pass, so write
    `coalesce(...)` or `is not null` into the expression where NULL must fail. -#}
{% test expression_is_true(model, expression) %}
    select *
    from {{ model }}
    where not ({{ expression }})
{% endtest %}
