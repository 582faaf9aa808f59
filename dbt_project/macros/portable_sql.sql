{#- Small helpers for the portable-SQL rules (docs/portable_sql.md) (the project must also build on Spark). -#}

{#- dbt.safe_cast is a plain cast on dbt-duckdb: a bad value would fail the whole query.
    try_cast returns NULL instead, as Spark's (non-ANSI) cast does. Note: dbt unit-test
    fixtures are cast with safe_cast too, so a mistyped fixture value becomes NULL. -#}
{% macro duckdb__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}


{#- 8-byte floating point. dbt.type_float() is `float`, which is 4-byte REAL on DuckDB. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'kpi_warehouse')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double
{%- endmacro %}


{#- numerator / denominator as a float, NULL (never 0, never inf) when the denominator is 0 or NULL. -#}
{% macro safe_divide(numerator, denominator) -%}
    (cast({{ numerator }} as {{ type_double() }}) / nullif({{ denominator }}, 0))
{%- endmacro %}


{#- Exact elapsed calendar minutes between two timestamps (fractional, from whole seconds).
    dbt.datediff(..., 'minute') counts minute boundaries crossed on DuckDB (10:00:59 -> 10:01:00
    is 1) but elapsed minutes on Spark: seconds / 60 as a double is the same on both. -#}
{% macro elapsed_minutes(start_timestamp, end_timestamp) -%}
    (cast({{ dbt.datediff(start_timestamp, end_timestamp, 'second') }} as {{ type_double() }}) / 60)
{%- endmacro %}


{#- A select of the integers 0 .. 10^digits - 1 as `n`, without generate_series (not portable):
    a cross join of one digits table per decimal place. -#}
{% macro integer_sequence(digits) -%}
    {%- set digit_values = [] -%}
    {%- for d in range(10) %}{% do digit_values.append('select ' ~ d ~ ' as digit') %}{% endfor -%}
    select {% for i in range(digits) %}place_{{ i }}.digit * {{ 10 ** i }}{{ ' + ' if not loop.last }}{% endfor %} as n
    from {% for i in range(digits) %}({{ digit_values | join(' union all ') }}) as place_{{ i }}{{ ' cross join ' if not loop.last }}{% endfor %}
{%- endmacro %}
