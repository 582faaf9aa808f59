{#- Daily ad delivery per campaign with spend in base currency, converted at the FX rate of
    the spend date (ad accounts bill in their own currency; the spend date is a business date). -#}

with

spend as (

    select * from {{ ref('stg_ads__ad_spend_daily') }}
    where {{ not_quarantined('stg_ads__ad_spend_daily', ['campaign_id', 'spend_date', 'platform']) }}

),

campaigns as (

    select * from {{ ref('stg_ads__campaigns') }}

),

fx_rates as (

    select * from {{ ref('int_finance__fx_rates_to_base') }}

),

final as (

    select
        ---------- ids
        spend.campaign_id,

        ---------- strings
        -- The campaign's platform (the segment of its sessions and orders too); the spend row's
        -- own platform when the campaign is not in the campaigns export.
        coalesce(campaigns.platform, spend.platform, 'unknown') as platform,
        spend.currency,

        ---------- numerics
        spend.impressions,
        spend.clicks,
        spend.spend_amount as original_spend_amount,
        {{ rate_to_base('spend.currency', 'fx.rate_to_base') }} as rate_to_base,
        {{ to_base_amount('spend.spend_amount', 'spend.currency', 'fx.rate_to_base') }} as spend_amount,

        ---------- dates
        spend.spend_date

    from spend
    left join campaigns
        on spend.campaign_id = campaigns.campaign_id
    left join fx_rates as fx
        on fx.rate_date = spend.spend_date
        and fx.currency = spend.currency

)

select * from final
