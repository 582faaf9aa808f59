{#- Every KPI of the catalogue has a row in the targets in use (model kpi_targets) (target may be empty: no
    target, no status), no row names an unknown kpi_id, and their direction agrees with
    the catalogue's (a user flipping it would invert every status). -#}
{{ config(meta={'dagster': {'ref': {'name': 'dim_kpi'}}}) }}

with

targets as (

    select * from {{ ref('kpi_targets') }}

),

kpis as (

    select * from {{ ref('dim_kpi') }}

)

select
    coalesce(kpis.kpi_id, targets.kpi_id) as kpi_id,
    case
        when targets.kpi_id is null then 'no row in kpi_targets (seed kpi_targets_business or kpi_targets_demo)'
        when kpis.kpi_id is null then 'kpi_id not in the catalogue (var kpi_catalog)'
        else {{ dbt.concat(["'direction '", 'targets.direction', "' in kpi_targets, '", 'kpis.direction', "' in the catalogue'"]) }}
    end as problem
from kpis
full outer join targets
    on kpis.kpi_id = targets.kpi_id
where targets.kpi_id is null
    or kpis.kpi_id is null
    or targets.direction <> kpis.direction
