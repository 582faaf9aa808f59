with

source as (

    select * from {{ source('mes', 'equipment_checks') }}

),

renamed as (

    select

        ---------- ids
        cast(check_id as {{ dbt.type_string() }}) as check_id,
        cast(line_id as {{ dbt.type_string() }}) as line_id,
        cast(operator_id as {{ dbt.type_string() }}) as operator_id,

        ---------- strings
        cast(upper(trim(shift)) as {{ dbt.type_string() }}) as shift,
        {{ vocabulary_columns('result', 'mes_results') }},

        ---------- dates
        cast(check_date as date) as check_date,

        ---------- timestamps
        cast(checked_at as {{ dbt.type_timestamp() }}) as checked_at,

        ---------- lineage
        _source_file,
        _loaded_at

    from source
    {{ vocabulary_join('result', 'mes_results') }}

)

select * from renamed
