{#- Customer-service KPIs per business date × channel (KPI_CATALOG.md, customer service).
    Each KPI is aggregated on its own date basis, then the bases are put side by side on
    date × channel. Only additive components are stored next to each value, so a BI tool
    rolls up with sum(numerator) / sum(denominator). -#}

with

tickets as (

    select * from {{ ref('int_customer_service__tickets') }}

),

csat_responses as (

    select * from {{ ref('int_customer_service__csat_responses') }}

),

-- Date basis: ticket created (first response, escalation, unanswered).
by_created_date as (

    select
        created_date as kpi_date,
        channel,
        -- Summed as whole seconds (exact, order-independent), then converted: a sum of
        -- fractional doubles differs in the last digit from run to run.
        sum(first_response_seconds) / 60.0 as first_response_minutes_sum,
        count(first_response_seconds) as answered_ticket_count,
        -- first reply within the channel's first-response SLA (seed channel_sla); a channel
        -- without an SLA is in neither count
        count_if(first_response_seconds <= first_response_sla_minutes * 60) as answered_within_sla_ticket_count,
        count_if(first_response_seconds is not null and first_response_sla_minutes is not null)
            as answered_with_sla_ticket_count,
        count_if(is_escalated) as escalated_ticket_count,
        count(*) as created_ticket_count,
        count_if(is_unanswered_past_sla) as unanswered_past_sla_ticket_count

    from tickets
    -- A ticket without created_at has no date here (left out; warn test on the staging column).
    where created_date is not null
    group by created_date, channel

),

-- Date basis: ticket first solved (FCR, reopen).
by_first_solved_date as (

    select
        first_solved_date as kpi_date,
        channel,
        count_if(is_first_contact_resolution) as first_contact_resolution_ticket_count,
        count_if(is_first_contact_resolution_eligible) as agent_touched_solved_ticket_count,
        count_if(is_reopened) as reopened_solved_ticket_count,
        count(*) as first_solved_ticket_count

    from tickets
    where has_been_solved
    group by first_solved_date, channel

),

-- Date basis: ticket last solved (resolution time, one-touch).
by_last_solved_date as (

    select
        last_solved_date as kpi_date,
        channel,
        sum(resolution_seconds) / 60.0 as resolution_minutes_sum,
        -- Solved tickets with a resolution time: one without created_at has none (left out of both).
        count(resolution_seconds) as solved_ticket_count,
        count_if(public_agent_message_count = 1) as one_touch_solved_ticket_count,
        -- One-touch counts every ticket solved now, with or without a created_at.
        count(*) as solved_now_ticket_count

    from tickets
    where is_solved
    group by last_solved_date, channel

),

-- Date basis: survey response.
by_response_date as (

    select
        responded_date as kpi_date,
        channel,
        count_if(is_satisfied) as satisfied_response_count,
        sum(score) as score_sum,
        count(*) as response_count

    from csat_responses
    group by responded_date, channel

),

-- Every date × channel where any KPI has data (a full outer join of the four bases).
kpi_dates_and_channels as (

    select kpi_date, channel from by_created_date
    union
    select kpi_date, channel from by_first_solved_date
    union
    select kpi_date, channel from by_last_solved_date
    union
    select kpi_date, channel from by_response_date

),

-- A basis without data on a row contributes zero (no tickets, no surveys), so every
-- component is a number and every row rolls up.
components as (

    select
        kpi_dates_and_channels.kpi_date,
        kpi_dates_and_channels.channel,

        cast(coalesce(by_created_date.first_response_minutes_sum, 0) as {{ type_double() }})
            as first_response_minutes_sum,
        cast(coalesce(by_created_date.answered_ticket_count, 0) as {{ dbt.type_bigint() }})
            as answered_ticket_count,
        cast(coalesce(by_created_date.answered_within_sla_ticket_count, 0) as {{ dbt.type_bigint() }})
            as answered_within_sla_ticket_count,
        cast(coalesce(by_created_date.answered_with_sla_ticket_count, 0) as {{ dbt.type_bigint() }})
            as answered_with_sla_ticket_count,

        cast(coalesce(by_first_solved_date.first_contact_resolution_ticket_count, 0) as {{ dbt.type_bigint() }})
            as first_contact_resolution_ticket_count,
        cast(coalesce(by_first_solved_date.agent_touched_solved_ticket_count, 0) as {{ dbt.type_bigint() }})
            as agent_touched_solved_ticket_count,

        cast(coalesce(by_last_solved_date.resolution_minutes_sum, 0) as {{ type_double() }})
            as resolution_minutes_sum,
        cast(coalesce(by_last_solved_date.solved_ticket_count, 0) as {{ dbt.type_bigint() }})
            as solved_ticket_count,

        cast(coalesce(by_response_date.satisfied_response_count, 0) as {{ dbt.type_bigint() }})
            as satisfied_response_count,
        cast(coalesce(by_response_date.response_count, 0) as {{ dbt.type_bigint() }})
            as response_count,

        cast(coalesce(by_response_date.score_sum, 0) as {{ dbt.type_bigint() }})
            as score_sum,

        cast(coalesce(by_created_date.escalated_ticket_count, 0) as {{ dbt.type_bigint() }})
            as escalated_ticket_count,
        cast(coalesce(by_created_date.created_ticket_count, 0) as {{ dbt.type_bigint() }})
            as created_ticket_count,

        cast(coalesce(by_created_date.unanswered_past_sla_ticket_count, 0) as {{ dbt.type_bigint() }})
            as unanswered_past_sla_ticket_count,

        cast(coalesce(by_first_solved_date.reopened_solved_ticket_count, 0) as {{ dbt.type_bigint() }})
            as reopened_solved_ticket_count,
        cast(coalesce(by_first_solved_date.first_solved_ticket_count, 0) as {{ dbt.type_bigint() }})
            as first_solved_ticket_count,

        cast(coalesce(by_last_solved_date.one_touch_solved_ticket_count, 0) as {{ dbt.type_bigint() }})
            as one_touch_solved_ticket_count,
        cast(coalesce(by_last_solved_date.solved_now_ticket_count, 0) as {{ dbt.type_bigint() }})
            as solved_now_ticket_count

    from kpi_dates_and_channels
    left join by_created_date
        on kpi_dates_and_channels.kpi_date = by_created_date.kpi_date
        and kpi_dates_and_channels.channel = by_created_date.channel
    left join by_first_solved_date
        on kpi_dates_and_channels.kpi_date = by_first_solved_date.kpi_date
        and kpi_dates_and_channels.channel = by_first_solved_date.channel
    left join by_last_solved_date
        on kpi_dates_and_channels.kpi_date = by_last_solved_date.kpi_date
        and kpi_dates_and_channels.channel = by_last_solved_date.channel
    left join by_response_date
        on kpi_dates_and_channels.kpi_date = by_response_date.kpi_date
        and kpi_dates_and_channels.channel = by_response_date.channel

),

final as (

    select
        kpi_date,
        channel,

        -- the KPI columns, generated from the declaration (dbt_project.yml, var kpi_catalog)
        {{ kpi_columns('fct_customer_service_daily') }}

    from components

)

select * from final
