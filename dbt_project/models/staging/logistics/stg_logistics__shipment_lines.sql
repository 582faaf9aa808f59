with

source as (

    select * from {{ source('logistics', 'shipment_lines') }}

),

renamed as (

    select

        ---------- ids
        cast(shipment_line_id as {{ dbt.type_string() }}) as shipment_line_id,
        cast(shipment_id as {{ dbt.type_string() }}) as shipment_id,
        cast(order_line_id as {{ dbt.type_string() }}) as order_line_id,
        cast(sku as {{ dbt.type_string() }}) as sku,

        ---------- numerics
        cast(quantity_shipped as {{ dbt.type_int() }}) as quantity_shipped,

        ---------- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,

        ---------- lineage
        _source_file,
        _loaded_at

    from source

)

select * from renamed
