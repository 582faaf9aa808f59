{#- SOP-MK-01 (campaign planning): one row per campaign that has spend, with its plan
    (budget, UTM tag, approval) and its spend so far in the campaign's currency. The process
    gate sop_mk_01__campaign_plans holds the budget tolerance and the approval rule. -#}

with

campaigns as (

    select * from {{ ref('stg_ads__campaigns') }}

),

spend as (

    select
        campaign_id,
        sum(spend_amount) as spend_amount,
        min(spend_date) as first_spend_date,
        max(spend_date) as last_spend_date,
        max(_loaded_at) as spend_loaded_at

    from {{ ref('stg_ads__ad_spend_daily') }}
    group by campaign_id

)

select
    campaigns.campaign_id,
    campaigns.platform,
    campaigns.utm_campaign,
    campaigns.currency,
    campaigns.budget_amount,
    campaigns.start_date,
    campaigns.end_date,
    campaigns.approved_at,
    spend.spend_amount,
    spend.first_spend_date,
    spend.last_spend_date,
    {{ dbt.datediff('cast(campaigns.approved_at as date)', 'campaigns.start_date', 'day') }} as days_approved_before_start,
    {{ safe_divide('spend.spend_amount', 'campaigns.budget_amount') }} as spend_to_budget_ratio,
    greatest(campaigns._loaded_at, spend.spend_loaded_at) as _loaded_at

from campaigns
inner join spend
    on campaigns.campaign_id = spend.campaign_id
