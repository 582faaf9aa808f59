{#- Advertising and marketing KPIs per business date × platform × campaign (KPI_CATALOG.md,
    advertising and marketing). Attribution: last touch through the session that placed the
    order (orders.session_id → web_sessions.utm_campaign → campaigns.utm_campaign). Sessions
    and orders without a known campaign form the segment platform = campaign_id = 'organic':
    it carries sessions and new customers but no spend and no attributed revenue, so the 'all'
    rollup of CAC is blended CAC and ROAS/ROI stay on paid revenue only. -#}

with

ad_spend as (

    select * from {{ ref('int_marketing__ad_spend') }}

),

sessions as (

    select * from {{ ref('int_storefront__sessions') }}

),

orders as (

    select * from {{ ref('int_storefront__orders') }}

),

refunds as (

    select * from {{ ref('int_storefront__refunds') }}

),

-- Date basis: spend date.
by_spend_date as (

    select
        spend_date as kpi_date,
        platform,
        campaign_id,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(spend_amount) as spend_amount

    from ad_spend
    group by spend_date, platform, campaign_id

),

-- Date basis: session start.
by_session_date as (

    select
        session_date as kpi_date,
        coalesce(campaign_platform, 'organic') as platform,
        coalesce(campaign_id, 'organic') as campaign_id,
        count(*) as session_count,
        count_if(has_purchase) as purchase_session_count

    from sessions
    group by session_date, coalesce(campaign_platform, 'organic'), coalesce(campaign_id, 'organic')

),

-- Date basis: order date (orders not cancelled). Revenue and margin are attributed to
-- campaigns only; new customers to their campaign or to organic.
by_order_date as (

    select
        order_date as kpi_date,
        coalesce(campaign_platform, 'organic') as platform,
        coalesce(campaign_id, 'organic') as campaign_id,
        sum(case when campaign_id is not null then net_revenue_amount else 0 end) as attributed_gross_revenue_amount,
        sum(case when campaign_id is not null then cogs_amount else 0 end) as attributed_cogs_amount,
        count_if(is_first_order) as new_customer_count

    from orders
    where not is_cancelled
    group by order_date, coalesce(campaign_platform, 'organic'), coalesce(campaign_id, 'organic')

),

-- Date basis: refund date (refunds of attributed orders lower attributed revenue on their day).
by_refund_date as (

    select
        refund_date as kpi_date,
        campaign_platform as platform,
        campaign_id,
        sum(refund_amount) as attributed_refunded_amount

    from refunds
    where campaign_id is not null
    group by refund_date, campaign_platform, campaign_id

),

kpi_dates_and_segments as (

    select kpi_date, platform, campaign_id from by_spend_date
    union
    select kpi_date, platform, campaign_id from by_session_date
    union
    select kpi_date, platform, campaign_id from by_order_date
    union
    select kpi_date, platform, campaign_id from by_refund_date

),

components as (

    select
        keys.kpi_date,
        keys.platform,
        keys.campaign_id,

        cast(coalesce(by_spend_date.spend_amount, 0) as decimal(38, 4)) as spend_amount,
        cast(coalesce(by_spend_date.impressions, 0) as {{ dbt.type_bigint() }}) as impressions,
        cast(coalesce(by_spend_date.clicks, 0) as {{ dbt.type_bigint() }}) as clicks,
        cast(coalesce(by_session_date.session_count, 0) as {{ dbt.type_bigint() }}) as session_count,
        cast(coalesce(by_session_date.purchase_session_count, 0) as {{ dbt.type_bigint() }}) as purchase_session_count,
        cast(coalesce(by_order_date.attributed_gross_revenue_amount, 0) - coalesce(by_refund_date.attributed_refunded_amount, 0)
            as decimal(38, 4)) as attributed_net_revenue_amount,
        cast(coalesce(by_order_date.attributed_gross_revenue_amount, 0) - coalesce(by_refund_date.attributed_refunded_amount, 0)
            - coalesce(by_order_date.attributed_cogs_amount, 0) as decimal(38, 4)) as attributed_gross_margin_amount,
        cast(coalesce(by_order_date.new_customer_count, 0) as {{ dbt.type_bigint() }}) as new_customer_count

    from kpi_dates_and_segments as keys
    left join by_spend_date
        on keys.kpi_date = by_spend_date.kpi_date
        and keys.platform = by_spend_date.platform
        and keys.campaign_id = by_spend_date.campaign_id
    left join by_session_date
        on keys.kpi_date = by_session_date.kpi_date
        and keys.platform = by_session_date.platform
        and keys.campaign_id = by_session_date.campaign_id
    left join by_order_date
        on keys.kpi_date = by_order_date.kpi_date
        and keys.platform = by_order_date.platform
        and keys.campaign_id = by_order_date.campaign_id
    left join by_refund_date
        on keys.kpi_date = by_refund_date.kpi_date
        and keys.platform = by_refund_date.platform
        and keys.campaign_id = by_refund_date.campaign_id

),

final as (

    select
        kpi_date,
        platform,
        campaign_id,
        attributed_net_revenue_amount,
        attributed_gross_margin_amount,

        -- the KPI columns, generated from the declaration (dbt_project.yml, var kpi_catalog)
        {{ kpi_columns('fct_marketing_daily') }}

    from components

)

select * from final
