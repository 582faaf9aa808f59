{#- The combination of columns is unique (a composite primary key). NULLs compare as values
    here; pair with not_null on each key column. -#}
{% test unique_combination(model, combination_of_columns) %}
    {%- set key = combination_of_columns | join(', ') %}
    select {{ key }}, count(*) as rows_with_key
    from {{ model }}
    group by {{ key }}
    having count(*) > 1
{% endtest %}
