{#- The KPI targets in use: the business's own (seed kpi_targets_business, shipped without a
    single target: every KPI shows "no target" until the business sets one) or the demo's (seed
    kpi_targets_demo, what `kpi demo` uses), chosen by KPI_TARGETS (var kpi_targets). Both seeds
    are read so the lineage does not depend on the setting; the one not chosen contributes no row.
    A model, not a seed, so marts.dim_kpi and marts.fct_kpi_daily keep reading ref('kpi_targets'). -#}
{%- set chosen = var('kpi_targets') | trim | lower -%}
{%- if chosen not in ('business', 'demo') -%}
    {{ exceptions.raise_compiler_error("KPI_TARGETS=" ~ chosen ~ ": expected 'business' (dbt_project/seeds/kpi_targets_business.csv, yours) or 'demo' (dbt_project/seeds/kpi_targets_demo.csv)") }}
{%- endif %}

select kpi_id, target, direction, warning_band
from {{ ref('kpi_targets_business') }}
where {{ 'true' if chosen == 'business' else 'false' }}

union all

select kpi_id, target, direction, warning_band
from {{ ref('kpi_targets_demo') }}
where {{ 'true' if chosen == 'demo' else 'false' }}
