{#- For each ratio kpi_id: components are never NULL, and the value is
    numerator / nullif(denominator, 0) (within rounding), NULL exactly when the denominator
    is 0. For each count kpi_id: the value is the numerator and the denominator is NULL. -#}
{% test kpi_components_consistent(model, ratio_kpi_ids=[], count_kpi_ids=[]) %}
    {%- set checks = [] -%}
    {%- for kpi in ratio_kpi_ids %}
        {%- set check -%}
            select '{{ kpi }}' as kpi_id, {{ kpi }}_numerator as numerator, {{ kpi }}_denominator as denominator, {{ kpi }} as kpi_value
            from {{ model }}
            where {{ kpi }}_numerator is null
                or {{ kpi }}_denominator is null
                or ({{ kpi }}_denominator = 0 and {{ kpi }} is not null)
                or ({{ kpi }}_denominator <> 0 and (
                    {{ kpi }} is null
                    or abs({{ kpi }} - {{ safe_divide(kpi ~ '_numerator', kpi ~ '_denominator') }}) > 1e-9
                ))
        {%- endset -%}
        {%- do checks.append(check) -%}
    {%- endfor -%}
    {%- for kpi in count_kpi_ids %}
        {%- set check -%}
            select '{{ kpi }}' as kpi_id, {{ kpi }}_numerator as numerator, {{ kpi }}_denominator as denominator, {{ kpi }} as kpi_value
            from {{ model }}
            where {{ kpi }}_numerator is null
                or {{ kpi }}_denominator is not null
                or {{ kpi }} is null
                or {{ kpi }} <> {{ kpi }}_numerator
        {%- endset -%}
        {%- do checks.append(check) -%}
    {%- endfor %}
    {{ checks | join('\n    union all\n') }}
{% endtest %}
