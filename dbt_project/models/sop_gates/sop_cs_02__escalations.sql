{#- SOP-CS-02 (escalation): one row per escalation event with its ticket's creation time.
    Data gate sop_cs_02__escalation_times (escalated after the ticket was created); process
    gate sop_cs_02__escalation_handoff (a tier and an assignee named). -#}

with

escalations as (

    select * from {{ ref('stg_helpdesk__ticket_interactions') }}
    where event_type = 'escalated'

),

tickets as (

    select * from {{ ref('stg_helpdesk__tickets') }}

)

select
    escalations.interaction_id,
    escalations.ticket_id,
    escalations.created_at as escalated_at,
    tickets.created_at as ticket_created_at,
    escalations.escalation_tier,
    escalations.assignee_id,
    greatest(escalations._loaded_at, coalesce(tickets._loaded_at, escalations._loaded_at)) as _loaded_at

from escalations
left join tickets
    on escalations.ticket_id = tickets.ticket_id
