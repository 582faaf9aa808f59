with

source as (

    select * from {{ source('logistics', 'inventory_snapshots') }}

),

renamed as (

    select

        ---------- ids
        cast(snapshot_date as date) as snapshot_date,
        cast(warehouse_id as {{ dbt.type_string() }}) as warehouse_id,
        cast(sku as {{ dbt.type_string() }}) as sku,

        ---------- numerics
        cast(on_hand as {{ dbt.type_int() }}) as on_hand,
        cast(reserved as {{ dbt.type_int() }}) as reserved,
        cast(inbound_on_order as {{ dbt.type_int() }}) as inbound_on_order,

        ---------- lineage
        _source_file,
        _loaded_at

    from source

)

select * from renamed
