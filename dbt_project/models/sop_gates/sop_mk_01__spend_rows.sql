{#- SOP-MK-01 (campaign planning): one row per ad-spend row with the campaign export's id
    for it (NULL when the campaign is not in the campaign export: data gate). -#}

with

spend as (

    select * from {{ ref('stg_ads__ad_spend_daily') }}

),

campaigns as (

    select * from {{ ref('stg_ads__campaigns') }}

)

select
    spend.spend_date,
    spend.platform,
    spend.campaign_id,
    campaigns.campaign_id as campaign_id_in_export,
    greatest(spend._loaded_at, coalesce(campaigns._loaded_at, spend._loaded_at)) as _loaded_at

from spend
left join campaigns
    on spend.campaign_id = campaigns.campaign_id
