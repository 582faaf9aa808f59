with

source as (

    select * from {{ source('storefront', 'customers') }}

),

renamed as (

    select

        ---------- ids
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,

        ---------- strings
        cast(upper(trim(country)) as {{ dbt.type_string() }}) as country,

        ---------- booleans
        cast(marketing_opt_in as {{ dbt.type_boolean() }}) as marketing_opt_in,

        ---------- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,

        ---------- lineage
        _source_file,
        _loaded_at

    from source

),

-- Change export: the same customer_id comes again with a newer updated_at; keep the newest
-- version (ties: the later load, then the later file).
latest_version as (

    select * from renamed
    qualify row_number() over (
        partition by customer_id
        order by updated_at desc nulls last, _loaded_at desc, _source_file desc
    ) = 1

)

select * from latest_version
