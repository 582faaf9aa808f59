{#- Manufacturing KPIs per business date (of the run's scheduled start) × plant × production
    line (KPI_CATALOG.md, manufacturing): the OEE family stored as additive components (whole
    seconds, units, ideal seconds as exact decimals). -#}

with

runs as (

    select * from {{ ref('int_manufacturing__runs') }}

),

by_run_date as (

    select
        run_date as kpi_date,
        coalesce(plant_id, 'unknown') as plant_id,
        coalesce(line_id, 'unknown') as line_id,
        count(*) as run_count,
        count_if(is_performance_above_one) as runs_with_performance_above_one,
        sum(planned_production_seconds) as planned_production_seconds,
        sum(unplanned_downtime_seconds) as unplanned_downtime_seconds,
        sum(run_seconds) as run_seconds,
        sum(ideal_seconds_total_count) as ideal_seconds_total_count,
        sum(ideal_seconds_good_count) as ideal_seconds_good_count,
        sum(total_count) as total_count,
        sum(good_count) as good_count,
        sum(scrap_count) as scrap_count

    from runs
    group by run_date, coalesce(plant_id, 'unknown'), coalesce(line_id, 'unknown')

),

components as (

    select
        kpi_date,
        plant_id,
        line_id,
        cast(run_count as {{ dbt.type_bigint() }}) as run_count,
        cast(runs_with_performance_above_one as {{ dbt.type_bigint() }}) as runs_with_performance_above_one,
        cast(coalesce(planned_production_seconds, 0) as {{ dbt.type_bigint() }}) as planned_production_seconds,
        cast(coalesce(unplanned_downtime_seconds, 0) as {{ dbt.type_bigint() }}) as unplanned_downtime_seconds,
        cast(coalesce(run_seconds, 0) as {{ dbt.type_bigint() }}) as run_seconds,
        cast(coalesce(ideal_seconds_total_count, 0) as decimal(38, 4)) as ideal_seconds_total_count,
        cast(coalesce(ideal_seconds_good_count, 0) as decimal(38, 4)) as ideal_seconds_good_count,
        cast(coalesce(total_count, 0) as {{ dbt.type_bigint() }}) as total_count,
        cast(coalesce(good_count, 0) as {{ dbt.type_bigint() }}) as good_count,
        cast(coalesce(scrap_count, 0) as {{ dbt.type_bigint() }}) as scrap_count

    from by_run_date

),

final as (

    select
        kpi_date,
        plant_id,
        line_id,
        run_count,
        runs_with_performance_above_one,
        unplanned_downtime_seconds,

        -- the KPI columns, generated from the declaration (dbt_project.yml, var kpi_catalog)
        {{ kpi_columns('fct_manufacturing_daily') }}

    from components

)

select * from final
