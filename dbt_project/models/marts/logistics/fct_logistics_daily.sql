{#- Shipping and logistics KPIs per business date × carrier × warehouse (KPI_CATALOG.md,
    shipping and logistics), with the back-end process measures the SOPs watch (order-to-ship,
    ship-to-delivery, refund lead time). Shipment KPIs use the shipment's carrier and warehouse;
    order KPIs those of the order's first shipment. Hours are summed as whole seconds, then
    converted. Inventory KPIs (warehouse × SKU grain) are in fct_logistics_inventory_daily. -#}

with

shipments as (

    select * from {{ ref('int_logistics__shipments') }}

),

orders as (

    select * from {{ ref('int_logistics__orders') }}

),

returns as (

    select * from {{ ref('int_logistics__returns') }}

),

-- Date basis: delivery date (shipments).
by_shipment_delivery_date as (

    select
        delivery_date as kpi_date,
        carrier,
        warehouse_id,
        count(*) as delivered_shipment_count,
        count_if(is_on_time) as on_time_shipment_count,
        -- A delivered shipment without its hand-over time (shipped_at NULL) counts for on-time
        -- delivery; ship-to-delivery hours need both times, so it is left out of that KPI only.
        count_if(is_shipped) as timed_delivered_shipment_count,
        sum(ship_to_delivery_seconds) / 3600.0 as ship_to_delivery_hours_sum

    from shipments
    where is_delivered
    group by delivery_date, carrier, warehouse_id

),

-- Date basis: ship date (shipments handed to the carrier).
by_shipment_ship_date as (

    select
        ship_date as kpi_date,
        carrier,
        warehouse_id,
        sum(shipping_cost_amount) as shipping_cost_amount

    from shipments
    where is_shipped
    group by ship_date, carrier, warehouse_id

),

-- Date basis: ship date of the order's first shipment.
by_order_ship_date as (

    select
        ship_date as kpi_date,
        carrier,
        warehouse_id,
        count(*) as shipped_order_count,
        count_if(is_accurate) as accurate_order_count,
        sum(ordered_units) as ordered_units,
        sum(filled_units) as filled_units,
        sum(net_revenue_amount) as shipped_order_revenue_amount,
        sum(order_to_ship_seconds) / 3600.0 as order_to_ship_hours_sum

    from orders
    group by ship_date, carrier, warehouse_id

),

-- Date basis: delivery date of the order (its last shipment delivered).
by_order_delivery_date as (

    select
        delivery_date as kpi_date,
        carrier,
        warehouse_id,
        count(*) as delivered_order_count,
        count_if(is_perfect) as perfect_order_count,
        count_if(is_on_time and is_complete_and_right) as on_time_in_full_order_count,
        count_if(has_return) as returned_order_count

    from orders
    where is_delivered
    group by delivery_date, carrier, warehouse_id

),

-- Date basis: refund date (returns received and refunded).
by_refund_date as (

    select
        refund_date as kpi_date,
        carrier,
        warehouse_id,
        count(*) as refunded_return_count,
        sum(refund_lead_seconds) / 3600.0 as refund_lead_hours_sum

    from returns
    where has_refund_lead_time
    group by refund_date, carrier, warehouse_id

),

kpi_dates_and_segments as (

    select kpi_date, carrier, warehouse_id from by_shipment_delivery_date
    union
    select kpi_date, carrier, warehouse_id from by_shipment_ship_date
    union
    select kpi_date, carrier, warehouse_id from by_order_ship_date
    union
    select kpi_date, carrier, warehouse_id from by_order_delivery_date
    union
    select kpi_date, carrier, warehouse_id from by_refund_date

),

components as (

    select
        keys.kpi_date,
        keys.carrier,
        keys.warehouse_id,

        cast(coalesce(d.delivered_shipment_count, 0) as {{ dbt.type_bigint() }}) as delivered_shipment_count,
        cast(coalesce(d.on_time_shipment_count, 0) as {{ dbt.type_bigint() }}) as on_time_shipment_count,
        cast(coalesce(d.timed_delivered_shipment_count, 0) as {{ dbt.type_bigint() }}) as timed_delivered_shipment_count,
        cast(coalesce(d.ship_to_delivery_hours_sum, 0) as {{ type_double() }}) as ship_to_delivery_hours_sum,
        cast(coalesce(s.shipping_cost_amount, 0) as decimal(38, 4)) as shipping_cost_amount,
        cast(coalesce(o.shipped_order_count, 0) as {{ dbt.type_bigint() }}) as shipped_order_count,
        cast(coalesce(o.accurate_order_count, 0) as {{ dbt.type_bigint() }}) as accurate_order_count,
        cast(coalesce(o.ordered_units, 0) as {{ dbt.type_bigint() }}) as ordered_units,
        cast(coalesce(o.filled_units, 0) as {{ dbt.type_bigint() }}) as filled_units,
        cast(coalesce(o.shipped_order_revenue_amount, 0) as decimal(38, 4)) as shipped_order_revenue_amount,
        cast(coalesce(o.order_to_ship_hours_sum, 0) as {{ type_double() }}) as order_to_ship_hours_sum,
        cast(coalesce(od.delivered_order_count, 0) as {{ dbt.type_bigint() }}) as delivered_order_count,
        cast(coalesce(od.perfect_order_count, 0) as {{ dbt.type_bigint() }}) as perfect_order_count,
        cast(coalesce(od.on_time_in_full_order_count, 0) as {{ dbt.type_bigint() }}) as on_time_in_full_order_count,
        cast(coalesce(od.returned_order_count, 0) as {{ dbt.type_bigint() }}) as returned_order_count,
        cast(coalesce(r.refunded_return_count, 0) as {{ dbt.type_bigint() }}) as refunded_return_count,
        cast(coalesce(r.refund_lead_hours_sum, 0) as {{ type_double() }}) as refund_lead_hours_sum

    from kpi_dates_and_segments as keys
    left join by_shipment_delivery_date as d
        on keys.kpi_date = d.kpi_date and keys.carrier = d.carrier and keys.warehouse_id = d.warehouse_id
    left join by_shipment_ship_date as s
        on keys.kpi_date = s.kpi_date and keys.carrier = s.carrier and keys.warehouse_id = s.warehouse_id
    left join by_order_ship_date as o
        on keys.kpi_date = o.kpi_date and keys.carrier = o.carrier and keys.warehouse_id = o.warehouse_id
    left join by_order_delivery_date as od
        on keys.kpi_date = od.kpi_date and keys.carrier = od.carrier and keys.warehouse_id = od.warehouse_id
    left join by_refund_date as r
        on keys.kpi_date = r.kpi_date and keys.carrier = r.carrier and keys.warehouse_id = r.warehouse_id

),

final as (

    select
        kpi_date,
        carrier,
        warehouse_id,

        -- the KPI columns, generated from the declaration (dbt_project.yml, var kpi_catalog)
        {{ kpi_columns('fct_logistics_daily') }}

    from components

)

select * from final
