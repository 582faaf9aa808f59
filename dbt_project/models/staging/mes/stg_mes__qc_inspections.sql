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
        {{ vocabulary_columns('result', 'mes_results') }},
        {{ vocabulary_columns('follow_up', 'qc_follow_ups') }},

        ---------- numerics
        cast(sample_size as {{ dbt.type_int() }}) as sample_size,
        cast(defects_found as {{ dbt.type_int() }}) as defects_found,

        ---------- timestamps
        cast(inspected_at as {{ dbt.type_timestamp() }}) as inspected_at,

        ---------- lineage
        _source_file,
        _loaded_at

    from source
    {{ vocabulary_join('result', 'mes_results') }}
    {{ vocabulary_join('follow_up', 'qc_follow_ups') }}

)

select * from renamed
