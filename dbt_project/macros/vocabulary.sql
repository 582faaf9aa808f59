{#- A vocabulary the KPI logic reads, in the business's own words: the delivered value (trimmed, lower
    case) mapped through the seed the business edits (columns <column>, kpi_<column>). A value without a
    row keeps its delivered spelling, so it counts as none of the seed's meanings; the staging model's
    warn test <model>_<column>_in_seed_<seed> stores it (pipelines/exports/contract.py: unmapped_test).
    The model selects `from source` and adds vocabulary_join for each column. -#}

{% macro vocabulary_columns(column, seed) -%}
    cast(coalesce({{ seed }}.kpi_{{ column }}, lower(trim(source.{{ column }}))) as {{ dbt.type_string() }}) as {{ column }},
        cast(lower(trim(source.{{ column }})) as {{ dbt.type_string() }}) as {{ column }}_delivered
{%- endmacro %}

{% macro vocabulary_join(column, seed) -%}
    left join {{ ref(seed) }} as {{ seed }}
        on lower(trim(source.{{ column }})) = {{ seed }}.{{ column }}
{%- endmacro %}
