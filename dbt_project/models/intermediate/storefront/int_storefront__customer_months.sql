{#- One row per acquired customer × calendar month from the month of the first order on, in
    which the customer had gross margin: orders (not cancelled) on their order month, refunds on
    their refund month. Customers with pre-history (account older than the order history) are
    not acquired in the data and are not here. Feeds the cohort table and sf_clv_12m_amount. -#}

with

orders as (

    select * from {{ ref('int_storefront__orders') }}

),

refunds as (

    select * from {{ ref('int_storefront__refunds') }}

),

acquired_customers as (

    select
        customer_id,
        cast({{ dbt.date_trunc('month', 'order_date') }} as date) as cohort_month,
        order_date as first_order_date,
        sales_channel as first_order_sales_channel,
        device as first_order_device
    from orders
    where is_first_order

),

margin_events as (

    -- gross margin of the order on its order date
    select
        customer_id,
        order_date as event_date,
        gross_margin_amount as gross_margin_amount,
        1 as order_count
    from orders
    where not is_cancelled

    union all

    -- a refund lowers the margin on its own date (the goods' cost is not reversed)
    select
        customer_id,
        refund_date as event_date,
        -refund_amount as gross_margin_amount,
        0 as order_count
    from refunds

),

final as (

    select
        acquired_customers.customer_id,
        acquired_customers.cohort_month,
        acquired_customers.first_order_date,
        acquired_customers.first_order_sales_channel,
        acquired_customers.first_order_device,
        cast({{ dbt.date_trunc('month', 'margin_events.event_date') }} as date) as activity_month,
        cast({{ dbt.datediff('acquired_customers.cohort_month', dbt.date_trunc('month', 'margin_events.event_date'), 'month') }}
            as {{ dbt.type_int() }}) as months_since_first_order,
        cast(sum(margin_events.order_count) as {{ dbt.type_bigint() }}) as order_count,
        cast(sum(margin_events.gross_margin_amount) as decimal(38, 4)) as gross_margin_amount

    from acquired_customers
    inner join margin_events
        on acquired_customers.customer_id = margin_events.customer_id
        and margin_events.event_date >= acquired_customers.first_order_date
    group by 1, 2, 3, 4, 5, 6, 7

)

select * from final
