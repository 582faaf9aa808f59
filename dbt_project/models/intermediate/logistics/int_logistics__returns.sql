{#- One row per return (latest version) with its refund lead time (return received at the
    warehouse → refund issued, whole seconds) and the carrier and warehouse of the order's first
    shipment (the logistics segment). -#}

with

returns as (

    select * from {{ ref('stg_logistics__returns') }}
    where {{ not_quarantined('stg_logistics__returns', ['return_id', 'order_line_id']) }}

),

orders as (

    select * from {{ ref('int_logistics__orders') }}

),

final as (

    select
        ---------- ids
        returns.return_id,
        returns.order_id,
        returns.order_line_id,
        returns.sku,
        coalesce(orders.warehouse_id, 'unknown') as warehouse_id,

        ---------- strings
        coalesce(orders.carrier, 'unknown') as carrier,
        returns.reason,

        ---------- numerics
        returns.quantity,
        {{ dbt.datediff('returns.received_at', 'returns.refunded_at', 'second') }} as refund_lead_seconds,

        ---------- booleans
        returns.received_at is not null and returns.refunded_at is not null as has_refund_lead_time,

        ---------- dates (business timezone)
        {{ business_date('returns.requested_at') }} as requested_date,
        {{ business_date('returns.received_at') }} as received_date,
        {{ business_date('returns.refunded_at') }} as refund_date,

        ---------- timestamps (UTC)
        returns.requested_at,
        returns.received_at,
        returns.refunded_at

    from returns
    left join orders
        on returns.order_id = orders.order_id

)

select * from final
