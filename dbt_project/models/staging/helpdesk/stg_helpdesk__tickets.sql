with

source as (

    select * from {{ source('helpdesk', 'tickets') }}

),

renamed as (

    select

        ---------- ids
        cast(ticket_id as {{ dbt.type_string() }}) as ticket_id,
        cast(requester_id as {{ dbt.type_string() }}) as requester_id,
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(assignee_id as {{ dbt.type_string() }}) as assignee_id,

        ---------- strings
        cast(lower(trim(channel)) as {{ dbt.type_string() }}) as channel,
        cast(lower(trim(priority)) as {{ dbt.type_string() }}) as priority,
        {{ vocabulary_columns('status', 'ticket_statuses') }},
        cast(trim(category) as {{ dbt.type_string() }}) as category,

        ---------- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        cast(solved_at as {{ dbt.type_timestamp() }}) as solved_at,

        ---------- lineage
        _source_file,
        _loaded_at

    from source
    {{ vocabulary_join('status', 'ticket_statuses') }}

),

-- Change export: the same ticket_id comes again with a newer updated_at.
latest_version as (

    select * from renamed
    {{ keep_latest_version('ticket_id', 'updated_at') }}

)

select * from latest_version
