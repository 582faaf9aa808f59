{#- SOP-MK-02 (analytics and reporting): one row per currency × day that an amount of any
    export is dated on, with the age in days of the newest FX rate on or before that day that
    converts the currency (either direction). NULL age: no rate at all (data gate); the gate
    holds how old a carried-forward rate may be. The base currency needs no rate. -#}

with

money_days as (

    select currency, cast(created_at as date) as money_date, 'orders' as source_export, _loaded_at
    from {{ ref('stg_storefront__orders') }}
    union all
    select currency, spend_date as money_date, 'ad_spend_daily' as source_export, _loaded_at
    from {{ ref('stg_ads__ad_spend_daily') }}
    union all
    select currency, cast(coalesce(shipped_at, created_at) as date) as money_date, 'shipments' as source_export, _loaded_at
    from {{ ref('stg_logistics__shipments') }}
    union all
    select currency, cast(refunded_at as date) as money_date, 'returns' as source_export, _loaded_at
    from {{ ref('stg_logistics__returns') }}
    where refunded_at is not null

),

currency_days as (

    select currency, money_date, min(source_export) as source_export, max(_loaded_at) as _loaded_at
    from money_days
    where currency is not null and money_date is not null
    group by currency, money_date

),

rate_legs as (

    select currency, rate_date from {{ ref('stg_finance__fx_rates') }} where rate > 0
    union all
    select quote_currency as currency, rate_date from {{ ref('stg_finance__fx_rates') }} where rate > 0

),

newest_rates as (

    select currency_days.currency, currency_days.money_date, max(rate_legs.rate_date) as newest_rate_date
    from currency_days
    inner join rate_legs
        on rate_legs.currency = currency_days.currency
        and rate_legs.rate_date <= currency_days.money_date
    group by currency_days.currency, currency_days.money_date

)

select
    currency_days.currency,
    currency_days.money_date,
    currency_days.source_export,
    newest_rates.newest_rate_date,
    case
        when currency_days.currency = {{ base_currency() }} then 0
        else {{ dbt.datediff('newest_rates.newest_rate_date', 'currency_days.money_date', 'day') }}
    end as fx_rate_age_days,
    currency_days._loaded_at

from currency_days
left join newest_rates
    on currency_days.currency = newest_rates.currency
    and currency_days.money_date = newest_rates.money_date
