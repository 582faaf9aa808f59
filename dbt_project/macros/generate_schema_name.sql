{#- Use the configured schema verbatim (staging, intermediate, marts, seeds), not
    dbt's default `<target schema>_<custom schema>`: the layers have fixed names that
    Dagster asset keys, the SOP gates and BI connections refer to. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
