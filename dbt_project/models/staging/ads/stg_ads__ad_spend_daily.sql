with

source as (

    select * from {{ source('ads', 'ad_spend_daily') }}

),

renamed as (

    select

        ---------- ids
        cast(spend_date as date) as spend_date,
        cast(platform as {{ dbt.type_string() }}) as platform,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,

        ---------- strings
        cast(upper(trim(currency)) as {{ dbt.type_string() }}) as currency,

        ---------- numerics
        cast(impressions as {{ dbt.type_bigint() }}) as impressions,
        cast(clicks as {{ dbt.type_bigint() }}) as clicks,
        cast(spend_amount as decimal(18, 4)) as spend_amount,

        ---------- lineage
        _source_file,
        _loaded_at

    from source

)

select * from renamed
