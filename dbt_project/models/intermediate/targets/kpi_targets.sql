{#- The KPI targets in use, one row per kpi_id of the catalogue: the business's own (seed
    kpi_targets_business, shipped without a single target: every KPI shows "no target" until the
    business sets one; a KPI without a row has no target) or the demo's (`demo_target:` of each
    declaration in var kpi_catalog, what `kpi demo` uses), chosen by KPI_TARGETS (var kpi_targets).
    The warning band is the declaration's unless the business's row sets its own. The direction is
    the declaration's only (marts.dim_kpi): a target never restates it. A model, not a seed, so
    marts.dim_kpi and marts.fct_kpi_daily keep reading ref('kpi_targets'). -#}
{%- set chosen = var('kpi_targets') | trim | lower -%}
{%- if chosen not in ('business', 'demo') -%}
    {{ exceptions.raise_compiler_error("KPI_TARGETS=" ~ chosen ~ ": expected 'business' (dbt_project/seeds/kpi_targets_business.csv, yours) or 'demo' (demo_target of each KPI in var kpi_catalog)") }}
{%- endif %}

with

declared as (
    {%- for kpi_id, kpi in kpi_catalog().items() %}
    select
        '{{ kpi_id }}' as kpi_id,
        cast({{ kpi.demo_target if kpi.get('demo_target') is not none else 'null' }} as {{ type_double() }}) as demo_target,
        cast({{ kpi.warning_band }} as {{ type_double() }}) as warning_band
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

business as (

    select * from {{ ref('kpi_targets_business') }}

)

select
    declared.kpi_id,
    {%- if chosen == 'demo' %}
    declared.demo_target as target,
    declared.warning_band
    {%- else %}
    cast(business.target as {{ type_double() }}) as target,
    coalesce(cast(business.warning_band as {{ type_double() }}), declared.warning_band) as warning_band
    {%- endif %}
from declared
left join business
    on declared.kpi_id = business.kpi_id
