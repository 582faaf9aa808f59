{{ config(schema='sop', materialized='view') }}
{#- SOP-MF-02 (quality control): one row per production run with
    - its unit counts and good + scrap − total (data gate: counts ≥ 0, good + scrap ≤ total),
    - its performance rate = ideal cycle time × total count ÷ run time, run time = scheduled
      window − planned downtime − unplanned downtime inside the window (data gate: ≤ 1; a
      rate above 1 means the rated cycle time or the counts are wrong),
    - its QC inspections: how many, the smallest sample, failed ones without a recorded
      follow-up (process gate). -#}

with

runs as (

    select * from {{ ref('stg_mes__production_runs') }}

),

unplanned_downtime as (

    select
        downtime.run_id,
        sum(
            {{ dbt.datediff(
                'case when downtime.started_at > runs.scheduled_start then downtime.started_at else runs.scheduled_start end',
                'case when downtime.ended_at < runs.scheduled_end then downtime.ended_at else runs.scheduled_end end',
                'second') }}
        ) as unplanned_downtime_seconds

    from {{ ref('stg_mes__downtime_events') }} as downtime
    inner join runs
        on downtime.run_id = runs.run_id
    where not coalesce(downtime.is_planned, false)
        and downtime.ended_at > runs.scheduled_start
        and downtime.started_at < runs.scheduled_end
    group by downtime.run_id

),

inspections as (

    select
        run_id,
        count(*) as qc_inspection_count,
        min(sample_size) as min_qc_sample_size,
        count_if(result = 'fail') as failed_qc_inspection_count,
        count_if(result = 'fail' and coalesce(follow_up, 'none') not in ('scrap', 'rework'))
            as failed_inspections_without_follow_up,
        max(_loaded_at) as inspections_loaded_at

    from {{ ref('stg_mes__qc_inspections') }}
    group by run_id

),

measured as (

    select
        runs.run_id,
        runs.line_id,
        runs.shift,
        runs.scheduled_start,
        runs.total_count,
        runs.good_count,
        runs.scrap_count,
        runs.rework_count,
        runs.good_count + runs.scrap_count - runs.total_count as good_plus_scrap_over_total,
        runs.ideal_cycle_seconds,
        {{ dbt.datediff('runs.scheduled_start', 'runs.scheduled_end', 'second') }}
            - coalesce(runs.planned_downtime_minutes, 0) * 60
            - coalesce(unplanned_downtime.unplanned_downtime_seconds, 0) as run_seconds,
        coalesce(inspections.qc_inspection_count, 0) as qc_inspection_count,
        inspections.min_qc_sample_size,
        coalesce(inspections.failed_qc_inspection_count, 0) as failed_qc_inspection_count,
        coalesce(inspections.failed_inspections_without_follow_up, 0) as failed_inspections_without_follow_up,
        greatest(runs._loaded_at, coalesce(inspections.inspections_loaded_at, runs._loaded_at)) as _loaded_at

    from runs
    left join unplanned_downtime
        on runs.run_id = unplanned_downtime.run_id
    left join inspections
        on runs.run_id = inspections.run_id

)

select
    *,
    {{ safe_divide('ideal_cycle_seconds * total_count', 'run_seconds') }} as performance_rate

from measured
