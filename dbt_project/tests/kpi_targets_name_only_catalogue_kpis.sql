{#- Every row of the business's targets (seed kpi_targets_business) names a kpi_id of the catalogue
    (var kpi_catalog): a target for a KPI that does not exist is a typo, never silently ignored. A KPI
    without a row has no target (and the declared warning band). A check of the seed itself, read
    against the declaration: its only input is the seed, so it runs in the step that loads the seed. -#}
{{ config(meta={'dagster': {'ref': {'name': 'kpi_targets_business'}}}) }}

select
    kpi_id,
    'kpi_id of seed kpi_targets_business not in the catalogue (var kpi_catalog)' as problem
from {{ ref('kpi_targets_business') }}
where kpi_id not in (
    {%- for kpi_id in kpi_catalog() %}'{{ kpi_id }}'{{ ', ' if not loop.last }}{% endfor -%}
)
