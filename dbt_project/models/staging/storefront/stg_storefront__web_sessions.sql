with

source as (

    select * from {{ source('storefront', 'web_sessions') }}

),

renamed as (

    select

        ---------- ids
        cast(session_id as {{ dbt.type_string() }}) as session_id,
        cast(visitor_id as {{ dbt.type_string() }}) as visitor_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,

        ---------- strings
        cast(lower(trim(device)) as {{ dbt.type_string() }}) as device,
        cast(lower(trim(sales_channel)) as {{ dbt.type_string() }}) as sales_channel,
        cast(trim(utm_source) as {{ dbt.type_string() }}) as utm_source,
        cast(trim(utm_medium) as {{ dbt.type_string() }}) as utm_medium,
        cast(trim(utm_campaign) as {{ dbt.type_string() }}) as utm_campaign,
        cast(landing_page as {{ dbt.type_string() }}) as landing_page,

        ---------- timestamps
        cast(started_at as {{ dbt.type_timestamp() }}) as started_at,
        cast(ended_at as {{ dbt.type_timestamp() }}) as ended_at,

        ---------- lineage
        _source_file,
        _loaded_at

    from source

)

select * from renamed
