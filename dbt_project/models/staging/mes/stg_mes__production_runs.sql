with

source as (

    select * from {{ source('mes', 'production_runs') }}

),

renamed as (

    select

        ---------- ids
        cast(run_id as {{ dbt.type_string() }}) as run_id,
        cast(plant_id as {{ dbt.type_string() }}) as plant_id,
        cast(line_id as {{ dbt.type_string() }}) as line_id,
        cast(sku as {{ dbt.type_string() }}) as sku,

        ---------- strings
        cast(upper(trim(shift)) as {{ dbt.type_string() }}) as shift,

        ---------- numerics
        cast(planned_downtime_minutes as {{ type_double() }}) as planned_downtime_minutes,
        cast(ideal_cycle_seconds as {{ type_double() }}) as ideal_cycle_seconds,
        cast(total_count as {{ dbt.type_int() }}) as total_count,
        cast(good_count as {{ dbt.type_int() }}) as good_count,
        cast(scrap_count as {{ dbt.type_int() }}) as scrap_count,
        cast(rework_count as {{ dbt.type_int() }}) as rework_count,

        ---------- timestamps
        cast(scheduled_start as {{ dbt.type_timestamp() }}) as scheduled_start,
        cast(scheduled_end as {{ dbt.type_timestamp() }}) as scheduled_end,

        ---------- lineage
        _source_file,
        _loaded_at

    from source

)

select * from renamed
