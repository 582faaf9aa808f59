{#- SOP-MF-01 (equipment operation): one row per downtime event with the minutes it lies
    outside its run's scheduled window (data gate: none) and its reason code (process gate). -#}

with

downtime as (

    select * from {{ ref('stg_mes__downtime_events') }}

),

runs as (

    select * from {{ ref('stg_mes__production_runs') }}

)

select
    downtime.downtime_id,
    downtime.run_id,
    downtime.line_id,
    downtime.is_planned,
    downtime.reason_code,
    downtime.started_at,
    downtime.ended_at,
    runs.scheduled_start,
    runs.scheduled_end,
    (
        case
            when downtime.started_at < runs.scheduled_start
                then {{ dbt.datediff('downtime.started_at', 'runs.scheduled_start', 'second') }}
            else 0
        end
        + case
            when downtime.ended_at > runs.scheduled_end
                then {{ dbt.datediff('runs.scheduled_end', 'downtime.ended_at', 'second') }}
            else 0
        end
    ) / 60.0 as minutes_outside_run_window,
    greatest(downtime._loaded_at, coalesce(runs._loaded_at, downtime._loaded_at)) as _loaded_at

from downtime
left join runs
    on downtime.run_id = runs.run_id
