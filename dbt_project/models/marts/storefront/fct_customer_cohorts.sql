{#- The acquisition cohort table behind sf_clv_12m_amount: one row per cohort month (month of
    the customers' first order) × months since the first order (0 = the cohort month), from 0
    to the last month of data, with the cohort's customers, the gross margin of the month and
    the cumulative gross margin (and per customer). Customers with pre-history are not in any
    cohort (their acquisition month is unknown). -#}

with

customer_months as (

    select * from {{ ref('int_storefront__customer_months') }}

),

orders as (

    select * from {{ ref('int_storefront__orders') }}

),

data_end as (

    select max(order_date) as data_end_date
    from orders

),

cohorts as (

    select cohort_month, count(distinct customer_id) as cohort_customer_count
    from customer_months
    where months_since_first_order = 0
    group by cohort_month

),

-- Every month from the cohort month to the last month of data (a month without orders is a
-- row with 0 margin: the cumulative figure carries on).
cohort_grid as (

    select
        cohorts.cohort_month,
        cohorts.cohort_customer_count,
        cast(month_offsets.n as {{ dbt.type_int() }}) as months_since_first_order,
        cast({{ dbt.dateadd('month', 'month_offsets.n', 'cohorts.cohort_month') }} as date) as activity_month
    from cohorts
    cross join data_end
    cross join ({{ integer_sequence(3) }}) as month_offsets
    where month_offsets.n <= {{ dbt.datediff('cohorts.cohort_month', 'data_end.data_end_date', 'month') }}

),

monthly as (

    select
        cohort_month,
        months_since_first_order,
        count(distinct case when order_count > 0 then customer_id end) as ordering_customer_count,
        sum(order_count) as order_count,
        sum(gross_margin_amount) as gross_margin_amount
    from customer_months
    group by cohort_month, months_since_first_order

),

final as (

    select
        cohort_grid.cohort_month,
        cohort_grid.months_since_first_order,
        cohort_grid.activity_month,
        cast(cohort_grid.cohort_customer_count as {{ dbt.type_bigint() }}) as cohort_customers,
        cast(coalesce(monthly.ordering_customer_count, 0) as {{ dbt.type_bigint() }}) as ordering_customers,
        cast(coalesce(monthly.order_count, 0) as {{ dbt.type_bigint() }}) as orders,
        cast(coalesce(monthly.gross_margin_amount, 0) as decimal(38, 4)) as gross_margin_amount,
        cast(
            sum(coalesce(monthly.gross_margin_amount, 0)) over (
                partition by cohort_grid.cohort_month
                order by cohort_grid.months_since_first_order
                rows between unbounded preceding and current row
            ) as decimal(38, 4)
        ) as cumulative_gross_margin_amount,
        {{ safe_divide(
            'sum(coalesce(monthly.gross_margin_amount, 0)) over (partition by cohort_grid.cohort_month order by cohort_grid.months_since_first_order rows between unbounded preceding and current row)',
            'cohort_grid.cohort_customer_count') }} as cumulative_gross_margin_per_customer_amount,
        data_end.data_end_date >= cast({{ dbt.last_day('cohort_grid.activity_month', 'month') }} as date) as is_month_complete,
        -- The cohort has its 12 full months (months 0-11) of data: sf_clv_12m_amount has a value.
        data_end.data_end_date >= cast({{ dbt.last_day(dbt.dateadd('month', 11, 'cohort_grid.cohort_month'), 'month') }} as date)
            as has_12_full_months

    from cohort_grid
    cross join data_end
    left join monthly
        on cohort_grid.cohort_month = monthly.cohort_month
        and cohort_grid.months_since_first_order = monthly.months_since_first_order

)

select * from final
