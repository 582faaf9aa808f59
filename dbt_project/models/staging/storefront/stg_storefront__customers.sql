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

-- Change export: the same customer_id comes again with a newer updated_at.
latest_version as (

    select * from renamed
    {{ keep_latest_version('customer_id', 'updated_at') }}

)

select * from latest_version
