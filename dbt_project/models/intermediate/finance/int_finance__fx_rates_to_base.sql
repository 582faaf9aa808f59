{#- Daily rate of every currency into the base currency (var base_currency): one row per
    calendar day × currency from the first published rate to the last, with
    rate_to_base = units of base currency per unit of `currency`.
    - A published rate converts both ways (C -> Q at r, Q -> C at 1 / r).
    - When no rate converts C straight into the base, a cross rate goes through one other
      currency: C -> Q -> base (e.g. base EUR with USD-quoted rates: GBP -> USD -> EUR).
    - Days without a published rate (weekends, holidays) carry each leg's last known rate
      forward, before cross rates are formed.
    - The base currency itself has rate 1 on every day. -#}

{%- set base = base_currency() %}

with

published_rates as (

    select rate_date, currency, quote_currency, rate
    from {{ ref('stg_finance__fx_rates') }}
    where rate > 0
        and currency <> quote_currency

),

-- Every published rate as two directed legs; a rate published in the same direction wins
-- over the inverse of the opposite one.
directed_rates as (

    select rate_date, from_currency, to_currency, rate
    from (
        select rate_date, currency as from_currency, quote_currency as to_currency, rate, 0 as is_inverse
        from published_rates
        union all
        select rate_date, quote_currency as from_currency, currency as to_currency, 1.0 / nullif(rate, 0) as rate, 1 as is_inverse
        from published_rates
    ) as both_directions
    qualify row_number() over (
        partition by rate_date, from_currency, to_currency
        order by is_inverse
    ) = 1

),

calendar as (

    select cast({{ dbt.dateadd('day', 'day_offsets.n', 'bounds.first_rate_date') }} as date) as rate_date
    from ({{ integer_sequence(5) }}) as day_offsets
    cross join (
        select min(rate_date) as first_rate_date, max(rate_date) as last_rate_date
        from published_rates
    ) as bounds
    where day_offsets.n <= {{ dbt.datediff('bounds.first_rate_date', 'bounds.last_rate_date', 'day') }}

),

legs as (

    select from_currency, to_currency, min(rate_date) as first_rate_date
    from directed_rates
    group by from_currency, to_currency

),

-- Each leg on every day from its first rate on, with the date of its last published rate.
leg_days as (

    select
        calendar.rate_date,
        legs.from_currency,
        legs.to_currency,
        max(directed_rates.rate_date) over (
            partition by legs.from_currency, legs.to_currency
            order by calendar.rate_date
            rows between unbounded preceding and current row
        ) as published_rate_date

    from legs
    inner join calendar
        on calendar.rate_date >= legs.first_rate_date
    left join directed_rates
        on directed_rates.from_currency = legs.from_currency
        and directed_rates.to_currency = legs.to_currency
        and directed_rates.rate_date = calendar.rate_date

),

filled_legs as (

    select
        leg_days.rate_date,
        leg_days.from_currency,
        leg_days.to_currency,
        directed_rates.rate,
        leg_days.published_rate_date

    from leg_days
    inner join directed_rates
        on directed_rates.from_currency = leg_days.from_currency
        and directed_rates.to_currency = leg_days.to_currency
        and directed_rates.rate_date = leg_days.published_rate_date

),

candidate_rates as (

    -- the base currency itself
    select
        rate_date,
        {{ base }} as currency,
        cast(1.0 as {{ type_double() }}) as rate_to_base,
        rate_date as published_rate_date,
        0 as legs_used,
        cast(null as {{ dbt.type_string() }}) as via_currency
    from calendar

    union all

    -- one leg: C -> base
    select
        rate_date,
        from_currency as currency,
        cast(rate as {{ type_double() }}) as rate_to_base,
        published_rate_date,
        1 as legs_used,
        cast(null as {{ dbt.type_string() }}) as via_currency
    from filled_legs
    where to_currency = {{ base }}

    union all

    -- two legs: C -> Q -> base
    select
        to_quote.rate_date,
        to_quote.from_currency as currency,
        cast(to_quote.rate * quote_to_base.rate as {{ type_double() }}) as rate_to_base,
        least(to_quote.published_rate_date, quote_to_base.published_rate_date) as published_rate_date,
        2 as legs_used,
        to_quote.to_currency as via_currency
    from filled_legs as to_quote
    inner join filled_legs as quote_to_base
        on to_quote.rate_date = quote_to_base.rate_date
        and to_quote.to_currency = quote_to_base.from_currency
    where quote_to_base.to_currency = {{ base }}
        and to_quote.from_currency <> {{ base }}

),

-- Fewest legs first, then the freshest rate, then a fixed order: one rate per day and currency.
best_rates as (

    select * from candidate_rates
    qualify row_number() over (
        partition by rate_date, currency
        order by legs_used, published_rate_date desc, via_currency
    ) = 1

),

final as (

    select
        rate_date,
        currency,
        {{ base }} as base_currency,
        rate_to_base,
        via_currency,
        published_rate_date,
        published_rate_date < rate_date as is_carried_forward

    from best_rates

)

select * from final
