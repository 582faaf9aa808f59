with

source as (

    select * from {{ source('logistics', 'returns') }}

),

renamed as (

    select

        ---------- ids
        cast(return_id as {{ dbt.type_string() }}) as return_id,
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(order_line_id as {{ dbt.type_string() }}) as order_line_id,
        cast(sku as {{ dbt.type_string() }}) as sku,

        ---------- strings
        {{ vocabulary_columns('reason', 'return_reasons') }},
        cast(upper(trim(currency)) as {{ dbt.type_string() }}) as currency,

        ---------- numerics
        cast(quantity as {{ dbt.type_int() }}) as quantity,
        cast(refund_amount as decimal(18, 4)) as refund_amount,

        ---------- timestamps
        cast(requested_at as {{ dbt.type_timestamp() }}) as requested_at,
        cast(received_at as {{ dbt.type_timestamp() }}) as received_at,
        cast(refunded_at as {{ dbt.type_timestamp() }}) as refunded_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,

        ---------- lineage
        _source_file,
        _loaded_at

    from source
    {{ vocabulary_join('reason', 'return_reasons') }}

),

-- Change export: the same return_id comes again with a newer updated_at.
latest_version as (

    select * from renamed
    {{ keep_latest_version('return_id', 'updated_at') }}

)

select * from latest_version
