{#- SOP-LG-01 (order fulfilment): one row per order line that shipment lines refer to, with
    the quantity ordered and the quantity shipped over all its shipment lines (data gate:
    shipped ≤ ordered; the order line must exist). -#}

with

shipped as (

    select
        order_line_id,
        sum(quantity_shipped) as quantity_shipped,
        count(*) as shipment_line_count,
        max(_loaded_at) as shipment_lines_loaded_at

    from {{ ref('stg_logistics__shipment_lines') }}
    group by order_line_id

),

order_lines as (

    select * from {{ ref('stg_storefront__order_lines') }}

)

select
    shipped.order_line_id,
    order_lines.order_id,
    order_lines.quantity as quantity_ordered,
    shipped.quantity_shipped,
    shipped.shipment_line_count,
    shipped.quantity_shipped - order_lines.quantity as units_shipped_over_ordered,
    greatest(shipped.shipment_lines_loaded_at, coalesce(order_lines._loaded_at, shipped.shipment_lines_loaded_at)) as _loaded_at

from shipped
left join order_lines
    on shipped.order_line_id = order_lines.order_line_id
