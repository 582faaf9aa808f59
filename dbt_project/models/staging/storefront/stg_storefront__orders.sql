with

source as (

    select * from {{ source('storefront', 'orders') }}

),

renamed as (

    select

        ---------- ids
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(session_id as {{ dbt.type_string() }}) as session_id,

        ---------- strings
        cast(lower(trim(sales_channel)) as {{ dbt.type_string() }}) as sales_channel,
        {{ vocabulary_columns('status', 'order_statuses') }},
        cast(upper(trim(currency)) as {{ dbt.type_string() }}) as currency,

        ---------- numerics
        cast(subtotal_amount as decimal(18, 4)) as subtotal_amount,
        cast(discount_amount as decimal(18, 4)) as discount_amount,
        cast(tax_amount as decimal(18, 4)) as tax_amount,
        cast(shipping_amount as decimal(18, 4)) as shipping_amount,
        cast(total_amount as decimal(18, 4)) as total_amount,
        cast(refunded_amount as decimal(18, 4)) as refunded_amount,

        ---------- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(paid_at as {{ dbt.type_timestamp() }}) as paid_at,
        cast(cancelled_at as {{ dbt.type_timestamp() }}) as cancelled_at,
        cast(refunded_at as {{ dbt.type_timestamp() }}) as refunded_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,

        ---------- lineage
        _source_file,
        _loaded_at

    from source
    {{ vocabulary_join('status', 'order_statuses') }}

),

-- Change export: the same order_id comes again with a newer updated_at.
latest_version as (

    select * from renamed
    {{ keep_latest_version('order_id', 'updated_at') }}

)

select * from latest_version
