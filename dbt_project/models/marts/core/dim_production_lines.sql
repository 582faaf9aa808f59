{#- One row per production line seen in the MES exports, with its plant and run history. -#}

with

runs as (

    select * from {{ ref('int_manufacturing__runs') }}

),

checks as (

    select * from {{ ref('stg_mes__equipment_checks') }}

),

line_ids as (

    select line_id from runs where line_id is not null
    union
    select line_id from checks where line_id is not null

),

run_history as (

    select
        line_id,
        -- a line belongs to one plant (the lowest plant_id if the MES ever disagrees; a test checks it)
        min(plant_id) as plant_id,
        count(*) as run_count,
        min(run_date) as first_run_date,
        max(run_date) as last_run_date,
        count(distinct sku) as sku_count
    from runs
    group by line_id

),

final as (

    select
        line_ids.line_id,
        coalesce(run_history.plant_id, 'unknown') as plant_id,
        cast(coalesce(run_history.run_count, 0) as {{ dbt.type_bigint() }}) as run_count,
        cast(coalesce(run_history.sku_count, 0) as {{ dbt.type_bigint() }}) as sku_count,
        run_history.first_run_date,
        run_history.last_run_date

    from line_ids
    left join run_history
        on line_ids.line_id = run_history.line_id

)

select * from final
