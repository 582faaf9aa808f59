{#- SOP-MF-01 (equipment operation): one row per production run with
    - the minutes it overlaps the previous run on the same line (data gate: none allowed),
    - the latest passed pre-shift equipment check of its line and shift before it started
      and how many hours before the start that was (process gate: a check within the shift). -#}

with

runs as (

    select * from {{ ref('stg_mes__production_runs') }}

),

checks as (

    select * from {{ ref('stg_mes__equipment_checks') }}
    where result = 'pass'

),

previous_runs as (

    select
        run_id,
        lag(scheduled_end) over (partition by line_id order by scheduled_start, run_id) as previous_run_end

    from runs

),

passed_checks as (

    select
        runs.run_id,
        max(checks.checked_at) as last_passed_check_at,
        max(checks._loaded_at) as checks_loaded_at

    from runs
    inner join checks
        on checks.line_id = runs.line_id
        and checks.shift = runs.shift
        and checks.checked_at <= runs.scheduled_start
        -- bounds the join only; the gate decides how old a check may be
        and checks.checked_at >= {{ dbt.dateadd('day', -2, 'runs.scheduled_start') }}
    group by runs.run_id

)

select
    runs.run_id,
    runs.line_id,
    runs.shift,
    runs.scheduled_start,
    runs.scheduled_end,
    previous_runs.previous_run_end,
    case
        when previous_runs.previous_run_end > runs.scheduled_start
            then cast({{ dbt.datediff('runs.scheduled_start', 'previous_runs.previous_run_end', 'second') }}
                as {{ type_double() }}) / 60
        else 0
    end as minutes_overlapping_previous_run,
    passed_checks.last_passed_check_at,
    cast({{ dbt.datediff('passed_checks.last_passed_check_at', 'runs.scheduled_start', 'second') }}
        as {{ type_double() }}) / 3600 as hours_since_passed_check,
    greatest(runs._loaded_at, coalesce(passed_checks.checks_loaded_at, runs._loaded_at)) as _loaded_at

from runs
inner join previous_runs
    on runs.run_id = previous_runs.run_id
left join passed_checks
    on runs.run_id = passed_checks.run_id
