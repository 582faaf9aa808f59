with

source as (

    select * from {{ source('helpdesk', 'csat_responses') }}

),

renamed as (

    select

        ---------- ids
        cast(response_id as {{ dbt.type_string() }}) as response_id,
        cast(ticket_id as {{ dbt.type_string() }}) as ticket_id,

        ---------- numerics
        cast(score as {{ dbt.type_int() }}) as score,

        ---------- timestamps
        cast(sent_at as {{ dbt.type_timestamp() }}) as sent_at,
        cast(responded_at as {{ dbt.type_timestamp() }}) as responded_at,

        ---------- lineage
        _source_file,
        _loaded_at

    from source

)

select * from renamed
