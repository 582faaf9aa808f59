{#- SOP-MF-02 (quality control): one row per production run with
    - its unit counts and good + scrap − total (data gate: counts ≥ 0, good + scrap ≤ total),
    - its performance rate = ideal cycle time × total count ÷ run time, run time = scheduled
      window − planned downtime − unplanned downtime inside the window, overlapping stops once
      (macro unplanned_downtime_per_run, as int_manufacturing__runs) (data gate: ≤ 1; a
      rate above 1 means the rated cycle time or the counts are wrong),
    - its QC inspections: how many, the smallest sample, failed ones without a recorded
      follow-up (process gate). -#}

with

runs as (

    select * from {{ ref('stg_mes__production_runs') }}

),

downtime_events as (

    select * from {{ ref('stg_mes__downtime_events') }}

),

-- The same merged downtime as int_manufacturing__runs (overlapping stops once): the gate judges
-- the run time the KPIs report.
unplanned_downtime as (

    {{ unplanned_downtime_per_run('runs', 'downtime_events') }}

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
