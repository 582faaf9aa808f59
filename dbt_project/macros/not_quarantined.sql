{#- A condition leaving out the rows of `model` (a gated staging model) that a data gate
    quarantined below its tolerance (source ops.sop_quarantine). `keys` are the gate's keys as
    listed in expectations/sops.yml, in that order (tests/unit/test_sop_registry.py checks every
    model reading a gated asset uses them). Use it in the CTE that selects from the model:
        select * from {{ ref('stg_x') }}
        where {{ not_quarantined('stg_x', ['x_id']) }}
    The key values are joined as pipelines/sop/results.py key_value joins them; the keys are read
    in the model's scope (not a correlated subquery: a key may share a name with a quarantine column). -#}
{% macro not_quarantined(model, keys) -%}
    concat_ws('|'
        {%- for key in keys %}, coalesce(cast({{ key }} as {{ dbt.type_string() }}), ''){% endfor %}) not in (
        select quarantine.key_values from {{ source('ops', 'sop_quarantine') }} as quarantine
        where quarantine.asset = 'staging/{{ model }}' and quarantine.key_columns = '{{ keys | join(", ") }}'
            and quarantine.key_values is not null
    )
{%- endmacro %}
