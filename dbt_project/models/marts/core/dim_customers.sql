{#- One row per customer (the customers export, plus any customer id that only orders know),
    with the first order and lifetime figures in base currency. Pre-history: the order history
    in the warehouse starts with its first order; an account created before that may have
    ordered before, so its first order in the warehouse is not an acquisition
    (has_pre_history = true: no acquisition date, no cohort, never a new customer). -#}

with

customers as (

    select * from {{ ref('stg_storefront__customers') }}

),

orders as (

    select * from {{ ref('int_storefront__orders') }}

),

refunds as (

    select * from {{ ref('int_storefront__refunds') }}

),

customer_ids as (

    select customer_id from customers
    union
    select customer_id from orders where customer_id is not null

),

order_history as (

    select min(created_at) as order_history_start_at
    from orders

),

lifetime_orders as (

    select
        customer_id,
        count(*) as lifetime_orders,
        sum(net_revenue_amount) as lifetime_gross_revenue_amount,
        sum(gross_margin_amount) as lifetime_order_margin_amount,
        min(order_date) as first_order_in_warehouse_date,
        max(order_date) as last_order_date
    from orders
    where not is_cancelled
        and customer_id is not null
    group by customer_id

),

lifetime_refunds as (

    select customer_id, sum(refund_amount) as lifetime_refunded_amount
    from refunds
    where customer_id is not null
    group by customer_id

),

first_orders as (

    select
        customer_id,
        order_id as first_order_id,
        order_date as first_order_date,
        sales_channel as first_order_sales_channel,
        device as first_order_device,
        campaign_id as first_order_campaign_id
    from orders
    where is_customer_first_order_in_warehouse

),

final as (

    select
        ---------- ids
        customer_ids.customer_id,
        first_orders.first_order_id,
        -- the campaign the first order is attributed to (NULL: organic)
        first_orders.first_order_campaign_id,

        ---------- strings
        customers.country,
        first_orders.first_order_sales_channel,
        first_orders.first_order_device,

        ---------- booleans
        customers.marketing_opt_in,
        coalesce(customers.created_at < order_history.order_history_start_at, false) as has_pre_history,
        customers.customer_id is not null as is_in_customers_export,

        ---------- dates
        first_orders.first_order_date,
        case
            when not coalesce(customers.created_at < order_history.order_history_start_at, false)
                then first_orders.first_order_date
        end as acquisition_date,
        case
            when not coalesce(customers.created_at < order_history.order_history_start_at, false)
                then cast({{ dbt.date_trunc('month', 'first_orders.first_order_date') }} as date)
        end as cohort_month,
        lifetime_orders.last_order_date,

        ---------- numerics: lifetime figures in the warehouse (base currency)
        cast(coalesce(lifetime_orders.lifetime_orders, 0) as {{ dbt.type_bigint() }}) as lifetime_orders,
        cast(coalesce(lifetime_orders.lifetime_gross_revenue_amount, 0) - coalesce(lifetime_refunds.lifetime_refunded_amount, 0)
            as decimal(38, 4)) as lifetime_net_revenue_amount,
        cast(coalesce(lifetime_refunds.lifetime_refunded_amount, 0) as decimal(38, 4)) as lifetime_refunded_amount,
        cast(coalesce(lifetime_orders.lifetime_order_margin_amount, 0) - coalesce(lifetime_refunds.lifetime_refunded_amount, 0)
            as decimal(38, 4)) as lifetime_gross_margin_amount,

        ---------- timestamps (UTC)
        customers.created_at,
        customers.updated_at

    from customer_ids
    cross join order_history
    left join customers
        on customer_ids.customer_id = customers.customer_id
    left join first_orders
        on customer_ids.customer_id = first_orders.customer_id
    left join lifetime_orders
        on customer_ids.customer_id = lifetime_orders.customer_id
    left join lifetime_refunds
        on customer_ids.customer_id = lifetime_refunds.customer_id

)

select * from final
