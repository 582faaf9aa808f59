{#- SOP-MK-02 (analytics and reporting): one row per day of every campaign's flight, up to
    the newest day the ad-spend export covers, and whether the export has the campaign's
    spend row for it (process gate: no gaps). Stamped with the load time of that day's spend
    rows, so a refresh looks at the days it delivered. -#}

with

campaigns as (

    select * from {{ ref('stg_ads__campaigns') }}

),

spend as (

    select * from {{ ref('stg_ads__ad_spend_daily') }}

),

spend_days as (

    select spend_date, max(_loaded_at) as day_loaded_at
    from spend
    group by spend_date

),

coverage as (

    select min(spend_date) as first_spend_date, max(spend_date) as last_spend_date
    from spend

),

flight_days as (

    select
        campaigns.campaign_id,
        campaigns.platform,
        cast({{ dbt.dateadd('day', 'day_offsets.n', 'campaigns.start_date') }} as date) as flight_date,
        campaigns._loaded_at as campaign_loaded_at

    from campaigns
    cross join coverage
    inner join ({{ integer_sequence(4) }}) as day_offsets
        on day_offsets.n <= {{ dbt.datediff('campaigns.start_date', 'campaigns.end_date', 'day') }}

),

covered_flight_days as (

    select flight_days.*
    from flight_days
    cross join coverage
    where flight_days.flight_date between coverage.first_spend_date and coverage.last_spend_date

),

spend_keys as (

    select campaign_id, spend_date, count(*) as spend_rows
    from spend
    group by campaign_id, spend_date

)

select
    covered_flight_days.campaign_id,
    covered_flight_days.platform,
    covered_flight_days.flight_date,
    coalesce(spend_keys.spend_rows, 0) > 0 as has_spend_row,
    coalesce(spend_days.day_loaded_at, covered_flight_days.campaign_loaded_at) as _loaded_at

from covered_flight_days
left join spend_keys
    on covered_flight_days.campaign_id = spend_keys.campaign_id
    and covered_flight_days.flight_date = spend_keys.spend_date
left join spend_days
    on covered_flight_days.flight_date = spend_days.spend_date
