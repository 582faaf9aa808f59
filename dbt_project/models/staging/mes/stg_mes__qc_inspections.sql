with

source as (

    select * from {{ source('mes', 'qc_inspections') }}

),

renamed as (

    select

        ---------- ids
        cast(inspection_id as {{ dbt.type_string() }}) as inspection_id,
        cast(run_id as {{ dbt.type_string() }}) as run_id,
        cast(inspector_id as {{ dbt.type_string() }}) as inspector_id,

        ---------- strings
        cast(lower(trim(result)) as {{ dbt.type_string() }}) as result,
        cast(lower(trim(follow_up)) as {{ dbt.type_string() }}) as follow_up,

        ---------- numerics
        cast(sample_size as {{ dbt.type_int() }}) as sample_size,
        cast(defects_found as {{ dbt.type_int() }}) as defects_found,

        ---------- timestamps
        cast(inspected_at as {{ dbt.type_timestamp() }}) as inspected_at,

        ---------- lineage
        _source_file,
        _loaded_at

    from source

)

select * from renamed
