{#- Inventory KPIs per snapshot date × warehouse (KPI_CATALOG.md, shipping and logistics):
    stockout rate over SKU-days and inventory days of supply. A SKU-day is one snapshot row
    (warehouse × SKU × day). Separate from fct_logistics_daily because its grain has no carrier. -#}

with

inventory_days as (

    select * from {{ ref('int_logistics__inventory_days') }}

),

by_snapshot_date as (

    select
        snapshot_date as kpi_date,
        warehouse_id,
        count(*) as sku_day_count,
        count_if(is_stockout) as stockout_sku_day_count,
        sum(available_units_not_negative) as available_units,
        sum(average_daily_demand_units) as average_daily_demand_units

    from inventory_days
    group by snapshot_date, warehouse_id

),

final as (

    select
        kpi_date,
        warehouse_id,

        -- the KPI columns, generated from the declaration (dbt_project.yml, var kpi_catalog)
        {{ kpi_columns('fct_logistics_inventory_daily') }}

    from by_snapshot_date

)

select * from final
