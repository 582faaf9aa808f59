with

source as (

    select * from {{ source('mes', 'downtime_events') }}

),

renamed as (

    select

        ---------- ids
        cast(downtime_id as {{ dbt.type_string() }}) as downtime_id,
        cast(run_id as {{ dbt.type_string() }}) as run_id,
        cast(line_id as {{ dbt.type_string() }}) as line_id,

        ---------- strings
        cast(trim(reason_code) as {{ dbt.type_string() }}) as reason_code,

        ---------- booleans
        cast(is_planned as {{ dbt.type_boolean() }}) as is_planned,

        ---------- timestamps
        cast(started_at as {{ dbt.type_timestamp() }}) as started_at,
        cast(ended_at as {{ dbt.type_timestamp() }}) as ended_at,

        ---------- lineage
        _source_file,
        _loaded_at

    from source

)

select * from renamed
