{#- One row per order with at least one shipment handed to a carrier: its first shipment
    (date, carrier, warehouse: the order's segment in logistics), whether it is delivered (all
    its shipments are), on time (every shipment by its promised date), accurate (every ordered
    line shipped with the right SKU and full quantity, nothing shipped that was not ordered,
    no return for a wrong or missing item) and perfect (delivered on time, accurate, no return
    as damaged), per KPI_CATALOG.md (WERC order accuracy, SCOR perfect order, per order); its
    units ordered and filled (the ordered SKU shipped, up to each line's quantity: fill rate). -#}

with

shipments as (

    select * from {{ ref('int_logistics__shipments') }}

),

shipment_lines as (

    select * from {{ ref('stg_logistics__shipment_lines') }}
    where {{ not_quarantined('stg_logistics__shipment_lines', ['order_line_id']) }}

),

order_lines as (

    select * from {{ ref('stg_storefront__order_lines') }}

),

orders as (

    select * from {{ ref('int_storefront__orders') }}

),

returns as (

    select * from {{ ref('stg_logistics__returns') }}
    where {{ not_quarantined('stg_logistics__returns', ['return_id', 'order_line_id']) }}

),

shipped_orders as (

    select
        order_id,
        count(*) as shipment_count,
        count(delivered_at) as delivered_shipment_count,
        max(delivered_at) as delivered_at,
        min(case when is_on_time then 1 else 0 end) as all_on_time
    from shipments
    where is_shipped
    group by order_id

),

first_shipments as (

    select order_id, shipment_id, carrier, warehouse_id, ship_date, shipped_at
    from shipments
    where is_shipped
        and shipment_number = 1

),

-- What was shipped per order line: units of the ordered SKU, and units of another SKU.
shipped_units as (

    select
        shipment_lines.order_line_id,
        sum(case when shipment_lines.sku = order_lines.sku then shipment_lines.quantity_shipped else 0 end) as right_sku_units,
        sum(case when shipment_lines.sku = order_lines.sku then 0 else shipment_lines.quantity_shipped end) as wrong_sku_units
    from shipment_lines
    inner join shipments
        on shipment_lines.shipment_id = shipments.shipment_id
    inner join order_lines
        on shipment_lines.order_line_id = order_lines.order_line_id
        and shipments.order_id = order_lines.order_id
    where shipments.is_shipped
    group by shipment_lines.order_line_id

),

line_accuracy as (

    select
        order_lines.order_id,
        count(*) as ordered_line_count,
        sum(
            case
                when coalesce(shipped_units.right_sku_units, 0) = order_lines.quantity
                    and coalesce(shipped_units.wrong_sku_units, 0) = 0 then 1
                else 0
            end
        ) as accurate_line_count,
        sum(order_lines.quantity) as ordered_units,
        -- units of the ordered SKU shipped, up to the line's quantity (an over-shipment fills no other line)
        sum(
            case
                when coalesce(shipped_units.right_sku_units, 0) < order_lines.quantity
                    then coalesce(shipped_units.right_sku_units, 0)
                else order_lines.quantity
            end
        ) as filled_units
    from order_lines
    left join shipped_units
        on order_lines.order_line_id = shipped_units.order_line_id
    group by order_lines.order_id

),

-- Shipment lines that fulfil no line of the order (an item nobody ordered).
unordered_lines as (

    select shipments.order_id, count(*) as unordered_line_count
    from shipment_lines
    inner join shipments
        on shipment_lines.shipment_id = shipments.shipment_id
    left join order_lines
        on shipment_lines.order_line_id = order_lines.order_line_id
        and shipments.order_id = order_lines.order_id
    where shipments.is_shipped
        and order_lines.order_line_id is null
    group by shipments.order_id

),

order_returns as (

    select
        order_id,
        count(*) as return_count,
        count_if(reason in ('wrong_item', 'missing_item')) as wrong_or_missing_return_count,
        count_if(reason = 'damaged') as damaged_return_count
    from returns
    group by order_id

),

flags as (

    select
        shipped_orders.order_id,
        first_shipments.shipment_id as first_shipment_id,
        first_shipments.carrier,
        first_shipments.warehouse_id,
        first_shipments.ship_date,
        first_shipments.shipped_at,
        shipped_orders.shipment_count,
        shipped_orders.delivered_shipment_count = shipped_orders.shipment_count as is_delivered,
        case
            when shipped_orders.delivered_shipment_count = shipped_orders.shipment_count
                then shipped_orders.delivered_at
        end as delivered_at,
        shipped_orders.delivered_shipment_count = shipped_orders.shipment_count
            and shipped_orders.all_on_time = 1 as is_on_time,
        coalesce(line_accuracy.ordered_line_count, 0) > 0
            and line_accuracy.accurate_line_count = line_accuracy.ordered_line_count
            and coalesce(unordered_lines.unordered_line_count, 0) = 0 as is_complete_and_right,
        coalesce(line_accuracy.ordered_units, 0) as ordered_units,
        coalesce(line_accuracy.filled_units, 0) as filled_units,
        coalesce(order_returns.return_count, 0) > 0 as has_return,
        coalesce(order_returns.wrong_or_missing_return_count, 0) > 0 as has_wrong_or_missing_item_return,
        coalesce(order_returns.damaged_return_count, 0) > 0 as has_damaged_return,
        orders.created_at as ordered_at,
        orders.net_revenue_amount

    from shipped_orders
    inner join first_shipments
        on shipped_orders.order_id = first_shipments.order_id
    left join line_accuracy
        on shipped_orders.order_id = line_accuracy.order_id
    left join unordered_lines
        on shipped_orders.order_id = unordered_lines.order_id
    left join order_returns
        on shipped_orders.order_id = order_returns.order_id
    left join orders
        on shipped_orders.order_id = orders.order_id

),

final as (

    select
        ---------- ids
        order_id,
        first_shipment_id,
        warehouse_id,

        ---------- strings
        carrier,

        ---------- numerics
        shipment_count,
        -- net revenue of the order (subtotal − discounts, base currency at the order date)
        net_revenue_amount,
        {{ dbt.datediff('ordered_at', 'shipped_at', 'second') }} as order_to_ship_seconds,
        -- units on the order's lines, and those shipped with the ordered SKU up to each line's quantity
        ordered_units,
        filled_units,

        ---------- booleans
        is_delivered,
        is_on_time,
        is_complete_and_right,
        has_return,
        has_wrong_or_missing_item_return,
        has_damaged_return,
        is_complete_and_right and not has_wrong_or_missing_item_return as is_accurate,
        is_delivered and is_on_time and is_complete_and_right
            and not has_wrong_or_missing_item_return and not has_damaged_return as is_perfect,

        ---------- dates (business timezone)
        ship_date,
        {{ business_date('delivered_at') }} as delivery_date,

        ---------- timestamps (UTC)
        ordered_at,
        shipped_at,
        delivered_at

    from flags

)

select * from final
