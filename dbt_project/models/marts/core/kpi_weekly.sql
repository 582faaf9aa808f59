{#- Every KPI of fct_kpi_daily per ISO week (Monday to Sunday) and segment, re-aggregated by its
    rollup rule (macro kpi_period_rollup, shared with kpi_monthly). -#}
{{ kpi_period_rollup('week', ref('fct_kpi_daily'), ref('dim_kpi')) }}
