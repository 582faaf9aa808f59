{#- SOP-MK-02 (analytics and reporting): one row per refresh that rebuilt KPI marts, with the
    hours since the previous one (process gate: the marts are refreshed at least daily, 26 h
    with slack). The first refresh has no previous one (NULL: nothing to check). -#}

with

refreshes as (

    select run_id, started_at, finished_at
    from {{ source('ops', 'sop_refresh_log') }}
    where marts_built > 0

)

select
    run_id,
    started_at,
    finished_at,
    lag(finished_at) over (order by finished_at, run_id) as previous_refresh_finished_at,
    cast({{ dbt.datediff('lag(finished_at) over (order by finished_at, run_id)', 'finished_at', 'second') }}
        as {{ type_double() }}) / 3600 as hours_since_previous_refresh,
    finished_at as _loaded_at

from refreshes
