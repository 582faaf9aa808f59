{#- For every kpi_id the catalogue declares in this mart (var kpi_catalog, `mart:`), by its rollup.
    Ratio: components are never NULL, and the value is numerator / nullif(denominator, 0) (within
    rounding), NULL exactly when the denominator is 0. Sum: the value is the numerator and the
    denominator is NULL. The lists come from the declaration, so a new KPI is tested with no edit here. -#}
{% test kpi_components_consistent(model) %}
    {%- set catalog = kpi_catalog() -%}
    {%- set kpi_ids = kpis_of_mart(model.identifier) -%}
    {%- if execute and not kpi_ids -%}
        {{ exceptions.raise_compiler_error("kpi_components_consistent: the catalogue declares no KPI in " ~ model.identifier) }}
    {%- endif -%}
    {%- set ratio_kpi_ids = [] -%}
    {%- set count_kpi_ids = [] -%}
    {%- for kpi_id in kpi_ids -%}
        {%- do (count_kpi_ids if catalog[kpi_id].rollup == 'sum' else ratio_kpi_ids).append(kpi_id) -%}
    {%- endfor -%}
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
