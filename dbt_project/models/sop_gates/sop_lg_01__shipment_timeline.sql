{#- SOP-LG-01 (order fulfilment): one row per shipment with its order's placing time.
    Data gate sop_lg_01__shipment_timeline: delivered ≥ shipped ≥ order placed. -#}

with

shipments as (

    select * from {{ ref('stg_logistics__shipments') }}

),

orders as (

    select * from {{ ref('stg_storefront__orders') }}

)

select
    shipments.shipment_id,
    shipments.order_id,
    shipments.carrier,
    shipments.tracking_number,
    shipments.status,
    shipments.shipped_at is not null or shipments.status in ('shipped', 'in_transit', 'delivered', 'lost') as is_handed_to_carrier,
    orders.created_at as order_created_at,
    shipments.created_at,
    shipments.shipped_at,
    shipments.delivered_at,
    greatest(shipments._loaded_at, coalesce(orders._loaded_at, shipments._loaded_at)) as _loaded_at

from shipments
left join orders
    on shipments.order_id = orders.order_id
