{#- SOP compliance per SOP per day (the business date of the check, in the business
    timezone). A check is one expectation of an SOP gate evaluated in a run on a non-empty
    refresh window (an expectation that could not run counts as a failed check; a window
    without rows checks nothing and is not counted). Data gates (block) and process gates
    (warn) both count: a procedure is complied with when its data can be trusted and its
    steps were followed. Stored as components (passed checks / checks) so BI rolls up with
    sum(numerator) / sum(denominator). -#}

with

results as (

    select * from {{ source('ops', 'sop_check_results') }}
    where rows_evaluated > 0 or error is not null

),

checks as (

    select
        {{ business_date('checked_at') }} as kpi_date,
        sop_id,
        run_id,
        gate_severity,
        coalesce(success, false) and not (gate_severity = 'block' and coalesce(unexpected, 0) > 0) as is_passed,  -- a quarantined row: not complied
        coalesce(unexpected, 0) as unexpected

    from results

),

final as (

    select
        kpi_date,
        sop_id,
        cast(count(*) as {{ dbt.type_bigint() }}) as check_count,
        cast(count_if(is_passed) as {{ dbt.type_bigint() }}) as passed_check_count,
        cast(count_if(not is_passed) as {{ dbt.type_bigint() }}) as failed_check_count,
        cast(count_if(gate_severity = 'block') as {{ dbt.type_bigint() }}) as data_check_count,
        cast(count_if(gate_severity = 'block' and not is_passed) as {{ dbt.type_bigint() }}) as failed_data_check_count,
        cast(count_if(gate_severity = 'warn') as {{ dbt.type_bigint() }}) as process_check_count,
        cast(count_if(gate_severity = 'warn' and not is_passed) as {{ dbt.type_bigint() }}) as failed_process_check_count,
        cast(sum(unexpected) as {{ dbt.type_bigint() }}) as unexpected_row_count,
        cast(count(distinct run_id) as {{ dbt.type_bigint() }}) as run_count,

        -- the KPI columns, generated from the declaration (dbt_project.yml, var kpi_catalog)
        {{ kpi_columns('fct_sop_compliance_daily') }}

    from checks
    group by kpi_date, sop_id

)

select * from final
