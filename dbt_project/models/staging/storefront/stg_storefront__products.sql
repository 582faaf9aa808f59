with

source as (

    select * from {{ source('storefront', 'products') }}

),

renamed as (

    select

        ---------- ids
        cast(sku as {{ dbt.type_string() }}) as sku,

        ---------- strings
        cast(product_name as {{ dbt.type_string() }}) as product_name,
        cast(trim(category) as {{ dbt.type_string() }}) as category,
        cast(upper(trim(currency)) as {{ dbt.type_string() }}) as currency,

        ---------- numerics
        cast(unit_price as decimal(18, 4)) as unit_price,
        cast(unit_cost as decimal(18, 4)) as unit_cost,
        cast(reorder_point as {{ dbt.type_int() }}) as reorder_point,

        ---------- booleans
        cast(is_active as {{ dbt.type_boolean() }}) as is_active,

        ---------- timestamps
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,

        ---------- lineage
        _source_file,
        _loaded_at

    from source

),

-- Change export: the same sku comes again with a newer updated_at.
latest_version as (

    select * from renamed
    {{ keep_latest_version('sku', 'updated_at') }}

)

select * from latest_version
