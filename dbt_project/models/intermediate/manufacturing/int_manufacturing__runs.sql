{#- One row per production run with the OEE time model in whole seconds (KPI_CATALOG.md,
    manufacturing):
    planned production time = scheduled run window − planned downtime (the run's
    planned_downtime_minutes: breaks, planned changeovers); unplanned downtime = the run's
    unplanned downtime events clipped to the run window, overlapping events counted once;
    run time = planned production time − unplanned downtime. Ideal times are the product's
    rated seconds per unit × units, rounded per run to 1/10000 s as decimals (exact sums). -#}

with

runs as (

    select * from {{ ref('stg_mes__production_runs') }}
    where {{ not_quarantined('stg_mes__production_runs', ['run_id', 'line_id']) }}

),

downtime_events as (

    select * from {{ ref('stg_mes__downtime_events') }}
    where {{ not_quarantined('stg_mes__downtime_events', ['downtime_id', 'run_id']) }}

),

-- Unplanned stops clipped to their run's window; what lies outside the window is not the run's.
clipped_stops as (

    select
        downtime_events.downtime_id,
        downtime_events.run_id,
        greatest(downtime_events.started_at, runs.scheduled_start) as stop_start,
        least(downtime_events.ended_at, runs.scheduled_end) as stop_end

    from downtime_events
    inner join runs
        on downtime_events.run_id = runs.run_id
    where not coalesce(downtime_events.is_planned, false)
        and downtime_events.started_at < runs.scheduled_end
        and downtime_events.ended_at > runs.scheduled_start

),

-- Overlapping stops merged (gaps and islands): a stop opens a new island when it starts after
-- every earlier stop of the run has ended.
flagged_stops as (

    select
        *,
        case
            when stop_start > max(stop_end) over (
                partition by run_id
                order by stop_start, stop_end, downtime_id
                rows between unbounded preceding and 1 preceding
            ) then 1
            when row_number() over (partition by run_id order by stop_start, stop_end, downtime_id) = 1 then 1
            else 0
        end as opens_island

    from clipped_stops

),

islands as (

    select
        run_id,
        sum(opens_island) over (
            partition by run_id
            order by stop_start, stop_end, downtime_id
            rows between unbounded preceding and current row
        ) as island,
        stop_start,
        stop_end

    from flagged_stops

),

unplanned_per_run as (

    select
        run_id,
        sum({{ dbt.datediff('island_start', 'island_end', 'second') }}) as unplanned_downtime_seconds,
        count(*) as unplanned_stop_count
    from (
        select run_id, island, min(stop_start) as island_start, max(stop_end) as island_end
        from islands
        group by run_id, island
    ) as merged
    group by run_id

),

timed_runs as (

    select
        runs.*,
        {{ dbt.datediff('runs.scheduled_start', 'runs.scheduled_end', 'second') }} as scheduled_seconds,
        -- planned downtime in whole seconds (the MES reports minutes as a decimal number)
        cast(round(coalesce(runs.planned_downtime_minutes, 0) * 60) as {{ dbt.type_bigint() }}) as planned_downtime_seconds,
        cast(coalesce(unplanned_per_run.unplanned_downtime_seconds, 0) as {{ dbt.type_bigint() }}) as unplanned_downtime_seconds,
        cast(coalesce(unplanned_per_run.unplanned_stop_count, 0) as {{ dbt.type_bigint() }}) as unplanned_stop_count

    from runs
    left join unplanned_per_run
        on runs.run_id = unplanned_per_run.run_id

),

final as (

    select
        ---------- ids
        run_id,
        plant_id,
        line_id,
        sku,

        ---------- strings
        shift,

        ---------- numerics: time model (seconds)
        scheduled_seconds,
        planned_downtime_seconds,
        scheduled_seconds - planned_downtime_seconds as planned_production_seconds,
        unplanned_downtime_seconds,
        unplanned_stop_count,
        scheduled_seconds - planned_downtime_seconds - unplanned_downtime_seconds as run_seconds,
        ideal_cycle_seconds,

        ---------- numerics: counts
        total_count,
        good_count,
        scrap_count,
        rework_count,
        cast(ideal_cycle_seconds * total_count as decimal(18, 4)) as ideal_seconds_total_count,
        cast(ideal_cycle_seconds * good_count as decimal(18, 4)) as ideal_seconds_good_count,

        ---------- numerics: the run's own rates (for checks; marts roll up the components)
        {{ safe_divide('scheduled_seconds - planned_downtime_seconds - unplanned_downtime_seconds', 'scheduled_seconds - planned_downtime_seconds') }}
            as availability_rate,
        {{ safe_divide('ideal_cycle_seconds * total_count', 'scheduled_seconds - planned_downtime_seconds - unplanned_downtime_seconds') }}
            as performance_rate,
        {{ safe_divide('good_count', 'total_count') }} as quality_rate,
        {{ safe_divide('ideal_cycle_seconds * good_count', 'scheduled_seconds - planned_downtime_seconds') }} as oee_rate,

        ---------- booleans
        -- Above 1 the ideal cycle time or the counts are wrong: flagged, never capped.
        coalesce(ideal_cycle_seconds * total_count > scheduled_seconds - planned_downtime_seconds - unplanned_downtime_seconds, false)
            as is_performance_above_one,

        ---------- dates (business timezone)
        {{ business_date('scheduled_start') }} as run_date,

        ---------- timestamps (UTC)
        scheduled_start,
        scheduled_end

    from timed_runs

)

select * from final
