{#- Storefront KPIs per business date × sales channel × device (KPI_CATALOG.md, storefront).
    Each KPI is aggregated on its own date basis (session start, order date, refund date,
    cohort month), then the bases are put side by side on date × segment; a basis without data
    on a row contributes 0 to its components. Amounts are in base currency. -#}

with

sessions as (

    select * from {{ ref('int_storefront__sessions') }}

),

orders as (

    select * from {{ ref('int_storefront__orders') }}

),

refunds as (

    select * from {{ ref('int_storefront__refunds') }}

),

customer_months as (

    select * from {{ ref('int_storefront__customer_months') }}

),

-- The newest order date: the end of the storefront data (not the wall clock).
data_end as (

    select max(order_date) as data_end_date
    from orders

),

-- Date basis: session start.
by_session_date as (

    select
        session_date as kpi_date,
        sales_channel,
        device,
        count(*) as session_count,
        count_if(has_purchase) as purchase_session_count,
        count_if(has_add_to_cart) as add_to_cart_session_count,
        count_if(has_add_to_cart and not has_purchase) as abandoned_cart_session_count

    from sessions
    group by session_date, sales_channel, device

),

-- Date basis: order date (orders not cancelled).
by_order_date as (

    select
        order_date as kpi_date,
        sales_channel,
        device,
        count(*) as order_count,
        -- Orders whose revenue is known (an order without subtotal and lines is not): the AOV's
        -- denominator, so an unknown revenue never counts as zero.
        count(net_revenue_amount) as revenue_order_count,
        count_if(is_first_order) as first_order_count,
        sum(net_revenue_amount) as gross_revenue_amount,
        sum(gross_sales_amount) as gross_sales_amount,
        -- Only discounts of orders whose gross sales are known: the rate compares like with like.
        sum(order_discount_amount) filter (where gross_sales_amount is not null) as discount_amount,
        count_if(order_discount_amount > 0) as discounted_order_count,
        sum(units) as units_ordered,
        -- Orders with units on their lines: an order whose lines are missing has 0 units, which
        -- is unknown, not zero (units per order leaves it out of both counts).
        count_if(units > 0) as order_with_units_count

    from orders
    where not is_cancelled
    group by order_date, sales_channel, device

),

-- Date basis: refund date (a refund lands on its own day).
by_refund_date as (

    select
        refund_date as kpi_date,
        sales_channel,
        device,
        sum(refund_amount) as refunded_amount

    from refunds
    group by refund_date, sales_channel, device

),

-- Date basis: cohort month (first day), by the first order's segment. 12 months = cohort
-- months 0 to 11; a cohort counts only once the data reach the end of its month 11.
cohort_customers as (

    select
        customer_id,
        cohort_month,
        first_order_sales_channel,
        first_order_device,
        sum(case when months_since_first_order <= 11 then gross_margin_amount else 0 end) as margin_12m_amount
    from customer_months
    group by customer_id, cohort_month, first_order_sales_channel, first_order_device

),

by_cohort_month as (

    select
        cohort_customers.cohort_month as kpi_date,
        cohort_customers.first_order_sales_channel as sales_channel,
        cohort_customers.first_order_device as device,
        count(*) as cohort_customer_count,
        sum(cohort_customers.margin_12m_amount) as margin_12m_amount,
        max(
            case
                when data_end.data_end_date >= cast({{ dbt.last_day(dbt.dateadd('month', 11, 'cohort_customers.cohort_month'), 'month') }} as date)
                    then 1
                else 0
            end
        ) as is_complete

    from cohort_customers
    cross join data_end
    group by cohort_customers.cohort_month, cohort_customers.first_order_sales_channel, cohort_customers.first_order_device

),

-- Every date × segment where any KPI has data.
kpi_dates_and_segments as (

    select kpi_date, sales_channel, device from by_session_date
    union
    select kpi_date, sales_channel, device from by_order_date
    union
    select kpi_date, sales_channel, device from by_refund_date
    union
    select kpi_date, sales_channel, device from by_cohort_month

),

components as (

    select
        keys.kpi_date,
        keys.sales_channel,
        keys.device,

        cast(coalesce(by_session_date.purchase_session_count, 0) as {{ dbt.type_bigint() }}) as purchase_session_count,
        cast(coalesce(by_session_date.session_count, 0) as {{ dbt.type_bigint() }}) as session_count,
        cast(coalesce(by_session_date.abandoned_cart_session_count, 0) as {{ dbt.type_bigint() }}) as abandoned_cart_session_count,
        cast(coalesce(by_session_date.add_to_cart_session_count, 0) as {{ dbt.type_bigint() }}) as add_to_cart_session_count,
        cast(coalesce(by_order_date.order_count, 0) as {{ dbt.type_bigint() }}) as order_count,
        cast(coalesce(by_order_date.revenue_order_count, 0) as {{ dbt.type_bigint() }}) as revenue_order_count,
        cast(coalesce(by_order_date.first_order_count, 0) as {{ dbt.type_bigint() }}) as first_order_count,
        cast(coalesce(by_order_date.gross_revenue_amount, 0) as decimal(38, 4)) as gross_revenue_amount,
        cast(coalesce(by_refund_date.refunded_amount, 0) as decimal(38, 4)) as refunded_amount,
        cast(coalesce(by_order_date.gross_sales_amount, 0) as decimal(38, 4)) as gross_sales_amount,
        cast(coalesce(by_order_date.discount_amount, 0) as decimal(38, 4)) as discount_amount,
        cast(coalesce(by_order_date.discounted_order_count, 0) as {{ dbt.type_bigint() }}) as discounted_order_count,
        cast(coalesce(by_order_date.units_ordered, 0) as {{ dbt.type_bigint() }}) as units_ordered,
        cast(coalesce(by_order_date.order_with_units_count, 0) as {{ dbt.type_bigint() }}) as order_with_units_count,
        cast(case when by_cohort_month.is_complete = 1 then by_cohort_month.margin_12m_amount else 0 end as decimal(38, 4))
            as clv_margin_12m_amount,
        cast(case when by_cohort_month.is_complete = 1 then by_cohort_month.cohort_customer_count else 0 end as {{ dbt.type_bigint() }})
            as clv_customer_count

    from kpi_dates_and_segments as keys
    left join by_session_date
        on keys.kpi_date = by_session_date.kpi_date
        and keys.sales_channel = by_session_date.sales_channel
        and keys.device = by_session_date.device
    left join by_order_date
        on keys.kpi_date = by_order_date.kpi_date
        and keys.sales_channel = by_order_date.sales_channel
        and keys.device = by_order_date.device
    left join by_refund_date
        on keys.kpi_date = by_refund_date.kpi_date
        and keys.sales_channel = by_refund_date.sales_channel
        and keys.device = by_refund_date.device
    left join by_cohort_month
        on keys.kpi_date = by_cohort_month.kpi_date
        and keys.sales_channel = by_cohort_month.sales_channel
        and keys.device = by_cohort_month.device

),

final as (

    select
        kpi_date,
        sales_channel,
        device,
        -- the two components of net revenue, kept apart
        gross_revenue_amount,
        refunded_amount,

        -- the KPI columns, generated from the declaration (dbt_project.yml, var kpi_catalog)
        {{ kpi_columns('fct_storefront_daily') }}

    from components

)

select * from final
