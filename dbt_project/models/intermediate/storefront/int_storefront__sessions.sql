{#- One row per web session with its segment (sales channel, device), its campaign (last
    touch: the session's utm_campaign matched to a campaign's UTM tag) and the funnel flags the
    storefront and marketing conversion KPIs count.

    Incremental by session_date (the largest model: every web session and event). A session
    belongs to the day it started and its flags come from its own events and orders, which
    happen after it started: rebuilding the window's days from events at or after the window's
    first day gives the same rows as a full build. A changed UTM tag of a campaign re-tags old
    sessions only on a full refresh. -#}
{{ config(**incremental_by_date('session_date')) }}
{%- set windowed = is_incremental() and incremental_window_set() %}

with

sessions as (

    select * from {{ ref('stg_storefront__web_sessions') }}
    -- a session without start has no date: in no session KPI, counted by warn test stg_storefront__web_sessions_started_at_known
    where started_at is not null
    {%- if windowed %}
        and {{ after_incremental_window_start('started_at') }}
    {%- endif %}

),

web_events as (

    select * from {{ ref('stg_storefront__web_events') }}
    {%- if windowed %}
    -- an event without time counts with its session on every run, as on the first
    where occurred_at is null or {{ after_incremental_window_start('occurred_at') }}
    {%- endif %}

),

orders as (

    select * from {{ ref('stg_storefront__orders') }}

),

-- One campaign per UTM tag (a tag reused by two campaigns goes to the lower campaign_id; a
-- warning test on stg_ads__campaigns flags it).
campaign_tags as (

    select utm_campaign, campaign_id, platform
    from {{ ref('stg_ads__campaigns') }}
    where utm_campaign is not null
    qualify row_number() over (partition by utm_campaign order by campaign_id) = 1

),

add_to_cart_sessions as (

    select session_id
    from web_events
    where event_type = 'add_to_cart'
    group by session_id

),

-- The shop's orders are the record of a purchase (the tracker's purchase events can be lost).
purchase_sessions as (

    select session_id, count(*) as order_count
    from orders
    where session_id is not null
    group by session_id

),

final as (

    select
        ---------- ids
        sessions.session_id,
        sessions.visitor_id,
        sessions.customer_id,
        campaign_tags.campaign_id,

        ---------- strings (segments; 'unknown' rather than NULL so every row has a segment)
        coalesce(sessions.sales_channel, 'unknown') as sales_channel,
        coalesce(sessions.device, 'unknown') as device,
        sessions.utm_source,
        sessions.utm_medium,
        sessions.utm_campaign,
        case when campaign_tags.campaign_id is not null then coalesce(campaign_tags.platform, 'unknown') end
            as campaign_platform,

        ---------- booleans
        add_to_cart_sessions.session_id is not null as has_add_to_cart,
        purchase_sessions.session_id is not null as has_purchase,

        ---------- dates (business timezone)
        {{ business_date('sessions.started_at') }} as session_date,

        ---------- timestamps (UTC)
        sessions.started_at

    from sessions
    left join campaign_tags
        on sessions.utm_campaign = campaign_tags.utm_campaign
    left join add_to_cart_sessions
        on sessions.session_id = add_to_cart_sessions.session_id
    left join purchase_sessions
        on sessions.session_id = purchase_sessions.session_id

)

select * from final
{%- if windowed %}
where {{ in_incremental_window('session_date') }}
{%- endif %}
