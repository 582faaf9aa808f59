with

source as (

    select * from {{ source('ads', 'campaigns') }}

),

renamed as (

    select

        ---------- ids
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,

        ---------- strings
        cast(lower(trim(platform)) as {{ dbt.type_string() }}) as platform,
        cast(campaign_name as {{ dbt.type_string() }}) as campaign_name,
        cast(trim(utm_campaign) as {{ dbt.type_string() }}) as utm_campaign,
        cast(upper(trim(currency)) as {{ dbt.type_string() }}) as currency,
        cast(owner as {{ dbt.type_string() }}) as owner,

        ---------- numerics
        cast(budget_amount as decimal(18, 4)) as budget_amount,

        ---------- dates
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,

        ---------- timestamps
        cast(approved_at as {{ dbt.type_timestamp() }}) as approved_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,

        ---------- lineage
        _source_file,
        _loaded_at

    from source

),

-- Change export: the same campaign_id comes again with a newer updated_at.
latest_version as (

    select * from renamed
    {{ keep_latest_version('campaign_id', 'updated_at') }}

)

select * from latest_version
