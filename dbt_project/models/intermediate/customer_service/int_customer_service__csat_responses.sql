{#- Answered satisfaction surveys, one row per response, with the ticket's channel and the
    business date of the answer (the CSAT date basis). Unanswered surveys are not responses. -#}

with

surveys as (

    select * from {{ ref('stg_helpdesk__csat_responses') }}

),

tickets as (

    select * from {{ ref('stg_helpdesk__tickets') }}
    where {{ not_quarantined('stg_helpdesk__tickets', ['ticket_id']) }}

),

answered_surveys as (

    select
        ---------- ids
        surveys.response_id,
        surveys.ticket_id,

        ---------- strings
        -- A survey whose ticket is not in the tickets export still counts, under 'unknown'.
        coalesce(tickets.channel, 'unknown') as channel,

        ---------- numerics
        surveys.score,

        ---------- booleans
        surveys.score >= 4 as is_satisfied,

        ---------- dates (business timezone)
        {{ business_date('surveys.responded_at') }} as responded_date,

        ---------- timestamps (UTC)
        surveys.sent_at,
        surveys.responded_at

    from surveys
    left join tickets
        on surveys.ticket_id = tickets.ticket_id
    where surveys.score is not null
        and surveys.responded_at is not null

)

select * from answered_surveys
