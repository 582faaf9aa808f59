{#- Every KPI of fct_kpi_daily per calendar month and segment, re-aggregated by its rollup rule
    (macro kpi_period_rollup, shared with kpi_weekly). -#}
{{ kpi_period_rollup('month', ref('fct_kpi_daily'), ref('dim_kpi')) }}
