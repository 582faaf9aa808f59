{#- One row per refund, on its own date (a refund lands on the day it is issued, never on the
    order's day), in base currency at the refund date's FX rate, with the order's segment and
    campaign. Refunds come from the returns export (one refund per return); a part of an
    order's refunded_amount that no return explains (a goodwill refund) is one more refund on
    the order's refunded_at. Refunds of cancelled orders are left out: their revenue was never
    counted. -#}

with

returns as (

    select * from {{ ref('stg_logistics__returns') }}
    where {{ not_quarantined('stg_logistics__returns', ['return_id', 'order_line_id']) }}

),

orders as (

    select * from {{ ref('int_storefront__orders') }}

),

fx_rates as (

    select * from {{ ref('int_finance__fx_rates_to_base') }}

),

return_refunds as (

    select
        return_id as refund_id,
        order_id,
        'return' as refund_source,
        currency,
        refund_amount,
        refunded_at
    from returns
    where refunded_at is not null
        and refund_amount is not null

),

-- What the order says it refunded beyond its returns' refunds (same currency).
order_remainders as (

    select
        {{ dbt.concat(["'order-'", 'orders.order_id']) }} as refund_id,
        orders.order_id,
        'order' as refund_source,
        orders.currency,
        orders.refunded_amount - coalesce(explained.refund_amount, 0) as refund_amount,
        orders.refunded_at
    from orders
    left join (
        select order_id, currency, sum(refund_amount) as refund_amount
        from return_refunds
        group by order_id, currency
    ) as explained
        on orders.order_id = explained.order_id
        and orders.currency = explained.currency
    where orders.refunded_at is not null
        and orders.refunded_amount - coalesce(explained.refund_amount, 0) > 0

),

refunds as (

    select * from return_refunds
    union all
    select * from order_remainders

),

final as (

    select
        ---------- ids
        refunds.refund_id,
        refunds.order_id,
        orders.customer_id,
        orders.campaign_id,

        ---------- strings (the order's segment)
        refunds.refund_source,
        orders.sales_channel,
        orders.device,
        orders.campaign_platform,
        refunds.currency,

        ---------- numerics
        refunds.refund_amount as original_refund_amount,
        {{ to_base_amount('refunds.refund_amount', 'refunds.currency', 'fx.rate_to_base') }} as refund_amount,

        ---------- dates (business timezone)
        {{ business_date('refunds.refunded_at') }} as refund_date,
        orders.order_date,

        ---------- timestamps (UTC)
        refunds.refunded_at

    from refunds
    inner join orders
        on refunds.order_id = orders.order_id
    left join fx_rates as fx
        on fx.rate_date = {{ business_date('refunds.refunded_at') }}
        and fx.currency = refunds.currency
    where not orders.is_cancelled

)

select * from final
