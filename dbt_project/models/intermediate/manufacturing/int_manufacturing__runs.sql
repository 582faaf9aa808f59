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
    -- a run without its scheduled window has no run date nor time model: in no KPI, counted by warn test stg_mes__production_runs_window_known
    where scheduled_start is not null and scheduled_end is not null
      and {{ not_quarantined('stg_mes__production_runs', ['run_id', 'line_id']) }}

),

downtime_events as (

    select * from {{ ref('stg_mes__downtime_events') }}
    where {{ not_quarantined('stg_mes__downtime_events', ['downtime_id', 'run_id']) }}

),

unplanned_per_run as (

    {{ unplanned_downtime_per_run('runs', 'downtime_events') }}

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
        -- a run without plant or line is counted in the segment `unknown` (a line of its own in dim_production_lines)
        coalesce(plant_id, 'unknown') as plant_id,
        coalesce(line_id, 'unknown') as line_id,
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
