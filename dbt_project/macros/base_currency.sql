{#- The configured base currency as a SQL string literal, validated (it is spliced into SQL). -#}
{% macro base_currency() -%}
    {%- set code = (var('base_currency', 'USD') or 'USD') | string | trim | upper -%}
    {%- if not modules.re.match('^[A-Z]{3}$', code) -%}
        {{ exceptions.raise_compiler_error("var base_currency (env KPI_BASE_CURRENCY) must be an ISO 4217 code such as 'USD', got '" ~ code ~ "'") }}
    {%- endif -%}
    '{{ code }}'
{%- endmacro %}
