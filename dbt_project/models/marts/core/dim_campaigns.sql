{#- One row per ad campaign (latest version), plus the row campaign_id = 'organic' that
    fct_marketing_daily uses for sessions and orders without a campaign, with spend to date in
    base currency. -#}

with

campaigns as (

    select * from {{ ref('stg_ads__campaigns') }}

),

ad_spend as (

    select * from {{ ref('int_marketing__ad_spend') }}

),

spend_to_date as (

    select
        campaign_id,
        sum(spend_amount) as spend_amount,
        min(spend_date) as first_spend_date,
        max(spend_date) as last_spend_date
    from ad_spend
    group by campaign_id

),

final as (

    select
        campaigns.campaign_id,
        coalesce(campaigns.platform, 'unknown') as platform,
        campaigns.campaign_name,
        campaigns.utm_campaign,
        campaigns.owner,
        campaigns.currency,
        campaigns.budget_amount,
        campaigns.start_date,
        campaigns.end_date,
        campaigns.approved_at,
        cast(coalesce(spend_to_date.spend_amount, 0) as decimal(38, 4)) as spend_to_date_amount,
        spend_to_date.first_spend_date,
        spend_to_date.last_spend_date,
        false as is_organic

    from campaigns
    left join spend_to_date
        on campaigns.campaign_id = spend_to_date.campaign_id

    union all

    select
        'organic' as campaign_id,
        'organic' as platform,
        'Organic and direct (no campaign)' as campaign_name,
        cast(null as {{ dbt.type_string() }}) as utm_campaign,
        cast(null as {{ dbt.type_string() }}) as owner,
        cast(null as {{ dbt.type_string() }}) as currency,
        cast(null as decimal(18, 4)) as budget_amount,
        cast(null as date) as start_date,
        cast(null as date) as end_date,
        cast(null as {{ dbt.type_timestamp() }}) as approved_at,
        cast(0 as decimal(38, 4)) as spend_to_date_amount,
        cast(null as date) as first_spend_date,
        cast(null as date) as last_spend_date,
        true as is_organic

)

select * from final
