{#- One row per shop order (latest version) with its amounts in base currency, its segment,
    its campaign (through its session) and whether it is the customer's first order.
    Net revenue of an order = subtotal − discounts (no tax, no shipping fee); cost of goods =
    units × the product's unit cost; both converted at the FX rate of the order date. -#}

with

orders as (

    select * from {{ ref('stg_storefront__orders') }}

),

order_lines as (

    select * from {{ ref('stg_storefront__order_lines') }}

),

products as (

    select * from {{ ref('stg_storefront__products') }}

),

customers as (

    select * from {{ ref('stg_storefront__customers') }}

),

sessions as (

    select * from {{ ref('int_storefront__sessions') }}

),

fx_rates as (

    select * from {{ ref('int_finance__fx_rates_to_base') }}

),

-- The start of the order history in the warehouse: a customer account older than this may
-- have ordered before it, so its first order here is not known to be its first.
order_history as (

    select min(created_at) as order_history_start_at
    from orders

),

dated_orders as (

    select
        orders.*,
        {{ business_date('orders.created_at') }} as order_date,
        coalesce(orders.status = 'cancelled' or orders.cancelled_at is not null, false) as is_cancelled
    from orders
    -- an order without creation time has no order date: in no order KPI, counted by warn test stg_storefront__orders_created_at_known
    where orders.created_at is not null

),

-- Cost of goods per order in base currency: each line's units × unit cost (in the product's
-- currency), converted at the order date's rate.
order_costs as (

    select
        order_lines.order_id,
        sum(order_lines.quantity) as units,
        -- The subtotal the lines add up to (order currency): stands in for a NULL subtotal_amount.
        sum(order_lines.quantity * order_lines.unit_price) as line_subtotal_amount,
        sum({{ to_base_amount('order_lines.quantity * products.unit_cost', 'products.currency', 'cost_fx.rate_to_base') }}) as cogs_amount,
        count(*) as line_count,
        count(products.sku) as costed_line_count

    from order_lines
    inner join dated_orders
        on order_lines.order_id = dated_orders.order_id
    left join products
        on order_lines.sku = products.sku
    left join fx_rates as cost_fx
        on cost_fx.rate_date = dated_orders.order_date
        and cost_fx.currency = products.currency
    group by order_lines.order_id

),

-- First order of each customer: the earliest order that was not cancelled (a cancelled order
-- acquired no one), ties broken by order_id.
first_orders as (

    select customer_id, order_id as first_order_id
    from dated_orders
    where customer_id is not null
        and not is_cancelled
    qualify row_number() over (partition by customer_id order by created_at, order_id) = 1

),

final as (

    select
        ---------- ids
        dated_orders.order_id,
        dated_orders.customer_id,
        dated_orders.session_id,
        sessions.campaign_id,

        ---------- strings (segments)
        coalesce(dated_orders.sales_channel, 'unknown') as sales_channel,
        -- Marketplace orders have no web session: their device is unknown.
        coalesce(sessions.device, 'unknown') as device,
        sessions.campaign_platform,
        dated_orders.status,
        dated_orders.currency,

        ---------- numerics (order currency)
        dated_orders.subtotal_amount,
        dated_orders.discount_amount,
        dated_orders.refunded_amount,

        -- The export's subtotal, else the lines' (an export without order subtotals); NULL for an
        -- order with neither: its revenue is unknown (counted as an order, not in revenue; warn test).
        coalesce(dated_orders.subtotal_amount, order_costs.line_subtotal_amount) as known_subtotal_amount,

        ---------- numerics (base currency)
        {{ rate_to_base('dated_orders.currency', 'fx.rate_to_base') }} as rate_to_base,
        {{ to_base_amount('coalesce(dated_orders.subtotal_amount, order_costs.line_subtotal_amount) - coalesce(dated_orders.discount_amount, 0)', 'dated_orders.currency', 'fx.rate_to_base') }}
            as net_revenue_amount,
        -- Its two parts, for the discount rate (each rounded apart: their difference may differ
        -- from net_revenue_amount in the 4th decimal). Gross sales NULL as net revenue is.
        {{ to_base_amount('coalesce(dated_orders.subtotal_amount, order_costs.line_subtotal_amount)', 'dated_orders.currency', 'fx.rate_to_base') }}
            as gross_sales_amount,
        {{ to_base_amount('coalesce(dated_orders.discount_amount, 0)', 'dated_orders.currency', 'fx.rate_to_base') }}
            as order_discount_amount,
        -- An order whose lines or products are missing is costed at what is known (flag below).
        cast(coalesce(order_costs.cogs_amount, 0) as decimal(18, 4)) as cogs_amount,
        {{ to_base_amount('coalesce(dated_orders.subtotal_amount, order_costs.line_subtotal_amount) - coalesce(dated_orders.discount_amount, 0)', 'dated_orders.currency', 'fx.rate_to_base') }}
            - cast(coalesce(order_costs.cogs_amount, 0) as decimal(18, 4)) as gross_margin_amount,
        cast(coalesce(order_costs.units, 0) as {{ dbt.type_bigint() }}) as units,

        ---------- booleans
        dated_orders.is_cancelled,
        -- The account existed before the order history begins: earlier orders are unknown.
        coalesce(customers.created_at < order_history.order_history_start_at, false) as customer_has_pre_history,
        first_orders.first_order_id is not null as is_customer_first_order_in_warehouse,
        first_orders.first_order_id is not null
            and not coalesce(customers.created_at < order_history.order_history_start_at, false)
            as is_first_order,
        coalesce(order_costs.line_count = order_costs.costed_line_count, false) as is_fully_costed,

        ---------- dates (business timezone)
        dated_orders.order_date,

        ---------- timestamps (UTC)
        dated_orders.created_at,
        dated_orders.cancelled_at,
        dated_orders.refunded_at

    from dated_orders
    cross join order_history
    left join sessions
        on dated_orders.session_id = sessions.session_id
    left join customers
        on dated_orders.customer_id = customers.customer_id
    left join first_orders
        on dated_orders.order_id = first_orders.first_order_id
    left join order_costs
        on dated_orders.order_id = order_costs.order_id
    left join fx_rates as fx
        on fx.rate_date = dated_orders.order_date
        and fx.currency = dated_orders.currency

)

select * from final
