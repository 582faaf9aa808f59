{#- One row per SKU (latest catalogue version) with price and cost in the product's currency,
    and the units sold and shipped in the warehouse's history. -#}

with

products as (

    select * from {{ ref('stg_storefront__products') }}

),

order_lines as (

    select * from {{ ref('stg_storefront__order_lines') }}

),

orders as (

    select * from {{ ref('int_storefront__orders') }}

),

units_sold as (

    select order_lines.sku, sum(order_lines.quantity) as units_sold
    from order_lines
    inner join orders
        on order_lines.order_id = orders.order_id
    where not orders.is_cancelled
    group by order_lines.sku

),

final as (

    select
        products.sku,
        products.product_name,
        products.category,
        products.currency,
        products.unit_price,
        products.unit_cost,
        products.reorder_point,
        products.is_active,
        cast(coalesce(units_sold.units_sold, 0) as {{ dbt.type_bigint() }}) as units_sold,
        products.updated_at

    from products
    left join units_sold
        on products.sku = units_sold.sku

)

select * from final
