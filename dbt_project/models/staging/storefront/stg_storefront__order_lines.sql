with

source as (

    select * from {{ source('storefront', 'order_lines') }}

),

renamed as (

    select

        ---------- ids
        cast(order_line_id as {{ dbt.type_string() }}) as order_line_id,
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(sku as {{ dbt.type_string() }}) as sku,

        ---------- numerics
        cast(quantity as {{ dbt.type_int() }}) as quantity,
        cast(unit_price as decimal(18, 4)) as unit_price,
        cast(discount_amount as decimal(18, 4)) as discount_amount,

        ---------- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,

        ---------- lineage
        _source_file,
        _loaded_at

    from source

)

select * from renamed
