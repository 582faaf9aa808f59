{#- One row per ticket (latest version) with the timeline and flags every customer-service
    KPI is computed from. Definitions follow KPI_CATALOG.md; the choices are documented in
    _customer_service__models.yml. -#}

with

tickets as (

    select * from {{ ref('stg_helpdesk__tickets') }}
    where {{ not_quarantined('stg_helpdesk__tickets', ['ticket_id']) }}

),

interactions as (

    select * from {{ ref('stg_helpdesk__ticket_interactions') }}
    where {{ not_quarantined('stg_helpdesk__ticket_interactions', ['interaction_id', 'ticket_id']) }}

),

channel_sla as (

    select * from {{ ref('channel_sla') }}

),

-- "Now" for the unanswered count is the newest change in the helpdesk exports, not the
-- wall clock: rebuilding on the same data gives the same numbers, and a late export does
-- not turn every open ticket into an SLA breach.
helpdesk_as_of as (

    select max(changed_at) as unanswered_as_of_at
    from (
        select max(updated_at) as changed_at from tickets
        union all
        select max(created_at) as changed_at from interactions
    ) as change_times

),

classified_interactions as (

    select
        ticket_id,
        created_at,
        event_type,
        -- A response the customer saw: internal notes, system events and customer
        -- messages are not.
        (
            author_role = 'agent'
            and coalesce(is_public, false)
            and event_type = 'message'
        ) as is_public_agent_message

    from interactions

),

interactions_per_ticket as (

    select
        ticket_id,
        min(created_at) filter (where is_public_agent_message) as first_response_at,
        count_if(is_public_agent_message) as public_agent_message_count,
        min(created_at) filter (where event_type = 'solved') as first_solved_event_at,
        max(created_at) filter (where event_type = 'solved') as last_solved_event_at,
        count_if(event_type = 'reopened') > 0 as is_reopened,
        count_if(event_type = 'escalated') > 0 as is_escalated

    from classified_interactions
    group by ticket_id

),

ticket_timeline as (

    select
        tickets.ticket_id,
        -- a ticket without channel is counted in the 'unknown' channel (warn test stg_helpdesk__tickets_channel_known)
        coalesce(tickets.channel, 'unknown') as channel,
        tickets.priority,
        tickets.status,
        tickets.category,
        tickets.created_at,
        interactions_per_ticket.first_response_at,
        cast(coalesce(interactions_per_ticket.public_agent_message_count, 0) as {{ dbt.type_bigint() }})
            as public_agent_message_count,
        -- The solved events are the history; the ticket's solved_at is its last solve and
        -- stands in when the events are missing.
        coalesce(interactions_per_ticket.first_solved_event_at, tickets.solved_at) as first_solved_at,
        coalesce(tickets.solved_at, interactions_per_ticket.last_solved_event_at) as last_solved_at,
        coalesce(interactions_per_ticket.is_reopened, false) as is_reopened,
        coalesce(interactions_per_ticket.is_escalated, false) as is_escalated,
        channel_sla.first_response_sla_minutes,
        helpdesk_as_of.unanswered_as_of_at

    from tickets
    left join interactions_per_ticket
        on tickets.ticket_id = interactions_per_ticket.ticket_id
    left join channel_sla
        on tickets.channel = channel_sla.channel
    cross join helpdesk_as_of

),

ticket_flags as (

    select
        *,
        coalesce(status in ('solved', 'closed') and last_solved_at is not null, false) as is_solved,
        first_solved_at is not null as has_been_solved

    from ticket_timeline

),

final as (

    select
        ---------- ids
        ticket_id,

        ---------- strings
        channel,
        priority,
        status,
        category,

        ---------- numerics
        public_agent_message_count,
        {{ dbt.datediff('created_at', 'first_response_at', 'second') }} as first_response_seconds,
        {{ elapsed_minutes('created_at', 'first_response_at') }} as first_response_minutes,
        case
            when is_solved then {{ dbt.datediff('created_at', 'last_solved_at', 'second') }}
        end as resolution_seconds,
        case
            when is_solved then {{ elapsed_minutes('created_at', 'last_solved_at') }}
        end as resolution_minutes,
        first_response_sla_minutes,

        ---------- booleans
        is_solved,
        has_been_solved,
        is_reopened,
        is_escalated,
        -- FCR denominator: solved at least once (a later reopen must stay in it, or reopened
        -- tickets would vanish from the rate they fail) and touched by an agent at least once.
        has_been_solved and public_agent_message_count >= 1 as is_first_contact_resolution_eligible,
        has_been_solved
            and public_agent_message_count = 1
            and not is_reopened
            and not is_escalated
            as is_first_contact_resolution,
        -- Still waiting for a first agent reply (solved/closed tickets wait for nothing) and
        -- older than the channel's SLA at the helpdesk's as-of time.
        coalesce(
            first_response_at is null
            and status not in ('solved', 'closed')
            and {{ dbt.datediff('created_at', 'unanswered_as_of_at', 'second') }} > first_response_sla_minutes * 60,
            false
        ) as is_unanswered_past_sla,

        ---------- dates (business timezone): the date basis of each KPI
        {{ business_date('created_at') }} as created_date,
        {{ business_date('first_solved_at') }} as first_solved_date,
        {{ business_date('last_solved_at') }} as last_solved_date,

        ---------- timestamps (UTC)
        created_at,
        first_response_at,
        first_solved_at,
        last_solved_at,
        unanswered_as_of_at

    from ticket_flags

)

select * from final
