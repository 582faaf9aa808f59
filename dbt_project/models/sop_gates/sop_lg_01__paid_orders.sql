{#- SOP-LG-01 (order fulfilment): one row per paid order that was not cancelled, with the
    hours from payment to its first shipment handed to the carrier, or, while it has not
    shipped, the hours it has waited so far (as of the newest change in the order and
    shipment exports). The process gate holds the handling time (2 days). -#}

with

orders as (

    select * from {{ ref('stg_storefront__orders') }}
    where paid_at is not null
        and cancelled_at is null
        and coalesce(status, '') <> 'cancelled'

),

shipments as (

    select * from {{ ref('stg_logistics__shipments') }}

),

as_of as (

    select max(changed_at) as as_of_at
    from (
        select max(updated_at) as changed_at from {{ ref('stg_storefront__orders') }}
        union all
        select max(updated_at) as changed_at from shipments
    ) as change_times

),

first_shipments as (

    select order_id, min(shipped_at) as first_shipped_at, max(_loaded_at) as shipments_loaded_at
    from shipments
    group by order_id

)

select
    orders.order_id,
    orders.sales_channel,
    orders.paid_at,
    first_shipments.first_shipped_at,
    first_shipments.first_shipped_at is not null as is_shipped,
    cast({{ dbt.datediff('orders.paid_at', 'coalesce(first_shipments.first_shipped_at, as_of.as_of_at)', 'second') }}
        as {{ type_double() }}) / 3600 as hours_paid_to_shipped,
    greatest(orders._loaded_at, coalesce(first_shipments.shipments_loaded_at, orders._loaded_at)) as _loaded_at

from orders
cross join as_of
left join first_shipments
    on orders.order_id = first_shipments.order_id
