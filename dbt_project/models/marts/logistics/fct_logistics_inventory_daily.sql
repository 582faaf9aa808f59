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

        cast(stockout_sku_day_count as {{ dbt.type_bigint() }}) as lg_stockout_rate_numerator,
        cast(sku_day_count as {{ dbt.type_bigint() }}) as lg_stockout_rate_denominator,
        {{ safe_divide('stockout_sku_day_count', 'sku_day_count') }} as lg_stockout_rate,

        cast(coalesce(available_units, 0) as {{ dbt.type_bigint() }}) as lg_inventory_days_of_supply_numerator,
        cast(coalesce(average_daily_demand_units, 0) as decimal(38, 6)) as lg_inventory_days_of_supply_denominator,
        {{ safe_divide('coalesce(available_units, 0)', 'coalesce(average_daily_demand_units, 0)') }} as lg_inventory_days_of_supply

    from by_snapshot_date

)

select * from final
