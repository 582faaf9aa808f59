{#- SOP-CS-01 (customer inquiries): one row per ticket with its first public agent reply.
    Validated by the process gate sop_cs_01__first_response (SLA per channel, category on
    solved tickets). The SLA minutes live in the suite, not here. -#}

with

tickets as (

    select * from {{ ref('stg_helpdesk__tickets') }}

),

interactions as (

    select * from {{ ref('stg_helpdesk__ticket_interactions') }}

),

first_responses as (

    select
        ticket_id,
        min(created_at) filter (
            where author_role = 'agent' and coalesce(is_public, false) and event_type = 'message'
        ) as first_response_at,
        max(_loaded_at) as interactions_loaded_at

    from interactions
    group by ticket_id

)

select
    tickets.ticket_id,
    tickets.channel,
    tickets.priority,
    tickets.status,
    tickets.category,
    coalesce(tickets.status in ('solved', 'closed'), false) as is_solved,
    tickets.created_at,
    first_responses.first_response_at,
    {{ elapsed_minutes('tickets.created_at', 'first_responses.first_response_at') }} as first_response_minutes,
    greatest(tickets._loaded_at, coalesce(first_responses.interactions_loaded_at, tickets._loaded_at)) as _loaded_at

from tickets
left join first_responses
    on tickets.ticket_id = first_responses.ticket_id
