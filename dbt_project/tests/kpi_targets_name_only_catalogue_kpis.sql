{#- Every row of the business's targets (seed kpi_targets_business) names a kpi_id of the catalogue
    (var kpi_catalog): a target for a KPI that does not exist is a typo, never silently ignored. A KPI
    without a row has no target (and the declared warning band). -#}
{{ config(meta={'dagster': {'ref': {'name': 'dim_kpi'}}}) }}

select
    business.kpi_id,
    'kpi_id of seed kpi_targets_business not in the catalogue (var kpi_catalog)' as problem
from {{ ref('kpi_targets_business') }} as business
left join {{ ref('dim_kpi') }} as kpis
    on business.kpi_id = kpis.kpi_id
where kpis.kpi_id is null
