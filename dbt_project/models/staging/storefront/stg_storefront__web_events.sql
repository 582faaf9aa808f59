with

source as (

    select * from {{ source('storefront', 'web_events') }}

),

renamed as (

    select

        ---------- ids
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(session_id as {{ dbt.type_string() }}) as session_id,
        cast(sku as {{ dbt.type_string() }}) as sku,
        cast(order_id as {{ dbt.type_string() }}) as order_id,

        ---------- strings
        {{ vocabulary_columns('event_type', 'web_event_types') }},

        ---------- numerics
        cast(quantity as {{ dbt.type_int() }}) as quantity,

        ---------- timestamps
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,

        ---------- lineage
        _source_file,
        _loaded_at

    from source
    {{ vocabulary_join('event_type', 'web_event_types') }}

)

select * from renamed
