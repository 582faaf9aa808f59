{#- Unplanned downtime per production run (KPI_CATALOG.md, manufacturing): the run's unplanned
    stops clipped to its scheduled window, overlapping stops merged and counted once. The one home
    of that rule: int_manufacturing__runs (the KPIs) and the SOP-MF-02 gate view (its performance
    check) both select from it, so the gate judges the same run time the KPIs report.
    `runs` and `downtime_events` are relations or CTE names with the staging columns.
    Returns one row per run with unplanned stops: run_id, unplanned_downtime_seconds,
    unplanned_stop_count (merged stops). An empty is_planned counts as unplanned. -#}
{% macro unplanned_downtime_per_run(runs, downtime_events) -%}
    select
        run_id,
        sum({{ dbt.datediff('island_start', 'island_end', 'second') }}) as unplanned_downtime_seconds,
        count(*) as unplanned_stop_count
    from (
        select run_id, island, min(stop_start) as island_start, max(stop_end) as island_end
        from (
            -- a stop opens a new island when it starts after every earlier stop of the run has ended
            select
                run_id,
                stop_start,
                stop_end,
                sum(opens_island) over (
                    partition by run_id
                    order by stop_start, stop_end, downtime_id
                    rows between unbounded preceding and current row
                ) as island
            from (
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
                from (
                    -- what lies outside the run's window is not the run's
                    select
                        stops.downtime_id,
                        stops.run_id,
                        greatest(stops.started_at, windows.scheduled_start) as stop_start,
                        least(stops.ended_at, windows.scheduled_end) as stop_end
                    from {{ downtime_events }} as stops
                    inner join {{ runs }} as windows
                        on stops.run_id = windows.run_id
                    where not coalesce(stops.is_planned, false)
                        and stops.started_at < windows.scheduled_end
                        and stops.ended_at > windows.scheduled_start
                ) as clipped_stops
            ) as flagged_stops
        ) as islands
        group by run_id, island
    ) as merged
    group by run_id
{%- endmacro %}
