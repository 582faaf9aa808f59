with

source as (

    select * from {{ source('logistics', 'shipments') }}

),

renamed as (

    select

        ---------- ids
        cast(shipment_id as {{ dbt.type_string() }}) as shipment_id,
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(warehouse_id as {{ dbt.type_string() }}) as warehouse_id,
        cast(tracking_number as {{ dbt.type_string() }}) as tracking_number,

        ---------- strings
        cast(lower(trim(carrier)) as {{ dbt.type_string() }}) as carrier,
        cast(lower(trim(service_level)) as {{ dbt.type_string() }}) as service_level,
        {{ vocabulary_columns('status', 'shipment_statuses') }},
        cast(upper(trim(currency)) as {{ dbt.type_string() }}) as currency,

        ---------- numerics
        cast(shipping_cost as decimal(18, 4)) as shipping_cost,
        cast(weight_kg as {{ type_double() }}) as weight_kg,

        ---------- dates
        cast(promised_delivery_date as date) as promised_delivery_date,

        ---------- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(shipped_at as {{ dbt.type_timestamp() }}) as shipped_at,
        cast(delivered_at as {{ dbt.type_timestamp() }}) as delivered_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,

        ---------- lineage
        _source_file,
        _loaded_at

    from source
    {{ vocabulary_join('status', 'shipment_statuses') }}

),

-- Change export: the same shipment_id comes again with a newer updated_at.
latest_version as (

    select * from renamed
    {{ keep_latest_version('shipment_id', 'updated_at') }}

)

select * from latest_version
