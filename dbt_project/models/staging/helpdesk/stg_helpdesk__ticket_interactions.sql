with

source as (

    select * from {{ source('helpdesk', 'ticket_interactions') }}

),

renamed as (

    select

        ---------- ids
        cast(interaction_id as {{ dbt.type_string() }}) as interaction_id,
        cast(ticket_id as {{ dbt.type_string() }}) as ticket_id,
        cast(author_id as {{ dbt.type_string() }}) as author_id,
        cast(assignee_id as {{ dbt.type_string() }}) as assignee_id,

        ---------- strings
        {{ vocabulary_columns('author_role', 'ticket_author_roles') }},
        cast(lower(trim(channel)) as {{ dbt.type_string() }}) as channel,
        {{ vocabulary_columns('event_type', 'ticket_event_types') }},
        cast(lower(trim(escalation_tier)) as {{ dbt.type_string() }}) as escalation_tier,

        ---------- booleans
        cast(is_public as {{ dbt.type_boolean() }}) as is_public,

        ---------- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,

        ---------- lineage
        _source_file,
        _loaded_at

    from source
    {{ vocabulary_join('event_type', 'ticket_event_types') }}
    {{ vocabulary_join('author_role', 'ticket_author_roles') }}

)

select * from renamed
