{#- SOP-CS-02 (escalation): one row per high or urgent ticket. A ticket that was never
    escalated carries the hours it stayed unsolved (until its last solve, or until the
    helpdesk's as-of time while still open); the gate sop_cs_02__escalation_due holds the
    limit (24 h). Escalated tickets carry NULL: nothing to check. -#}

with

tickets as (

    select * from {{ ref('stg_helpdesk__tickets') }}
    where priority in ('high', 'urgent')

),

interactions as (

    select * from {{ ref('stg_helpdesk__ticket_interactions') }}

),

-- "Now" is the newest change in the helpdesk exports, not the wall clock (reruns agree).
helpdesk_as_of as (

    select max(changed_at) as as_of_at
    from (
        select max(updated_at) as changed_at from {{ ref('stg_helpdesk__tickets') }}
        union all
        select max(created_at) as changed_at from interactions
    ) as change_times

),

escalated as (

    select ticket_id, count(*) as escalation_count, max(_loaded_at) as escalations_loaded_at
    from interactions
    where event_type = 'escalated'
    group by ticket_id

)

select
    tickets.ticket_id,
    tickets.priority,
    tickets.status,
    tickets.created_at,
    tickets.solved_at,
    coalesce(escalated.escalation_count, 0) > 0 as is_escalated,
    case
        when escalated.ticket_id is null then
            cast({{ dbt.datediff('tickets.created_at', 'coalesce(tickets.solved_at, helpdesk_as_of.as_of_at)', 'second') }}
                as {{ type_double() }}) / 3600
    end as hours_unsolved_without_escalation,
    greatest(tickets._loaded_at, coalesce(escalated.escalations_loaded_at, tickets._loaded_at)) as _loaded_at

from tickets
cross join helpdesk_as_of
left join escalated
    on tickets.ticket_id = escalated.ticket_id
