{#- OEE = availability × performance × quality (KPI_CATALOG.md, manufacturing), for every run,
    and for every line-day of fct_manufacturing_daily whose runs made one product at one ideal
    cycle time (over mixed products only the stored OEE rolls up right: see the model docs).
    Returns the rows where the identity breaks (relative tolerance 1e-9). -#}
{#- Shown in Dagster as a check of the mart (a singular test with two refs needs the hint). -#}
{{ config(meta={'dagster': {'ref': {'name': 'fct_manufacturing_daily'}}}) }}

with

runs as (

    select * from {{ ref('int_manufacturing__runs') }}

),

run_mismatches as (

    select
        'run' as grain,
        run_id as id,
        run_date as kpi_date,
        availability_rate * performance_rate * quality_rate as product_of_rates,
        oee_rate
    from runs
    where planned_production_seconds > 0
        and run_seconds > 0
        and total_count > 0
        and abs(availability_rate * performance_rate * quality_rate - oee_rate) > 1e-9 * greatest(abs(oee_rate), 1e-9)

),

single_ideal_line_days as (

    select run_date, plant_id, line_id
    from runs
    group by run_date, plant_id, line_id
    having count(distinct ideal_cycle_seconds) = 1

),

mart_mismatches as (

    select
        'line_day' as grain,
        mart.line_id as id,
        mart.kpi_date,
        mart.mf_availability_rate * mart.mf_performance_rate * mart.mf_quality_rate as product_of_rates,
        mart.mf_oee_rate as oee_rate
    from {{ ref('fct_manufacturing_daily') }} as mart
    inner join single_ideal_line_days as single
        on mart.kpi_date = single.run_date
        and mart.plant_id = single.plant_id
        and mart.line_id = single.line_id
    where mart.mf_availability_rate_denominator > 0
        and mart.mf_performance_rate_denominator > 0
        and mart.mf_quality_rate_denominator > 0
        and abs(mart.mf_availability_rate * mart.mf_performance_rate * mart.mf_quality_rate - mart.mf_oee_rate)
            > 1e-9 * greatest(abs(mart.mf_oee_rate), 1e-9)

)

select * from run_mismatches
union all
select * from mart_mismatches
