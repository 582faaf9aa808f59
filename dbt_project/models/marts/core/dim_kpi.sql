{#- One row per kpi_id, from the one KPI declaration (var kpi_catalog in dbt_project.yml) that
    the docs of every mart column also render: name, domain, the business goal it measures,
    owner, unit, direction, rollup, date basis, definition, the mart holding its components;
    plus the target the business set (model kpi_targets (the business's seed kpi_targets_business, or the demo's with KPI_TARGETS=demo)). -#}

{%- set catalog = kpi_catalog() %}
{%- set goals = var('kpi_goals') %}

with

declared as (
    {%- for kpi_id, kpi in catalog.items() %}
    select
        '{{ kpi_id }}' as kpi_id,
        {{ sql_text(kpi.name) }} as kpi_name,
        '{{ kpi.domain }}' as domain,
        '{{ kpi.goal }}' as business_goal_id,
        {{ sql_text(goals[kpi.goal]) }} as business_goal,
        {{ sql_text(kpi.owner) }} as owner,
        {{ kpi_unit_label(kpi) }} as unit,
        '{{ kpi.direction }}' as direction,
        '{{ kpi.rollup }}' as rollup,
        '{{ kpi.get('grain', 'day') }}' as grain,
        {{ sql_text(kpi.date_basis) }} as date_basis,
        {{ sql_text(kpi.definition) }} as definition,
        '{{ kpi.mart }}' as mart,
        {{ loop.index }} as catalog_order
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

targets as (

    select * from {{ ref('kpi_targets') }}

),

final as (

    select
        declared.kpi_id,
        declared.kpi_name,
        declared.domain,
        declared.business_goal_id,
        declared.business_goal,
        declared.owner,
        declared.unit,
        declared.direction,
        declared.rollup,
        declared.grain,
        declared.date_basis,
        declared.definition,
        declared.mart,
        cast(targets.target as {{ type_double() }}) as target,
        cast(targets.warning_band as {{ type_double() }}) as warning_band,
        cast(declared.catalog_order as {{ dbt.type_int() }}) as catalog_order

    from declared
    left join targets
        on declared.kpi_id = targets.kpi_id

)

select * from final
