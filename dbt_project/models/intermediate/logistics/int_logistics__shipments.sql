{#- One row per shipment (latest version) with its dates in the business timezone, its cost in
    base currency (FX rate of the ship date), on-time flag and transit time in whole seconds. -#}

with

shipments as (

    select * from {{ ref('stg_logistics__shipments') }}
    where {{ not_quarantined('stg_logistics__shipments', ['shipment_id', 'order_id']) }}

),

fx_rates as (

    select * from {{ ref('int_finance__fx_rates_to_base') }}

),

dated_shipments as (

    select
        shipments.*,
        {{ business_date('shipments.shipped_at') }} as ship_date,
        {{ business_date('shipments.delivered_at') }} as delivery_date
    from shipments

),

final as (

    select
        ---------- ids
        dated_shipments.shipment_id,
        dated_shipments.order_id,
        coalesce(dated_shipments.warehouse_id, 'unknown') as warehouse_id,

        ---------- strings
        coalesce(dated_shipments.carrier, 'unknown') as carrier,
        dated_shipments.service_level,
        dated_shipments.status,
        dated_shipments.currency,

        ---------- numerics
        dated_shipments.shipping_cost as original_shipping_cost,
        -- Only shipments handed to the carrier carry a cost (on the ship date).
        {{ to_base_amount('dated_shipments.shipping_cost', 'dated_shipments.currency', 'fx.rate_to_base') }} as shipping_cost_amount,
        {{ dbt.datediff('dated_shipments.shipped_at', 'dated_shipments.delivered_at', 'second') }} as ship_to_delivery_seconds,
        -- Rank of the shipment within its order (1 = first handed to a carrier).
        row_number() over (
            partition by dated_shipments.order_id
            order by dated_shipments.shipped_at nulls last, dated_shipments.shipment_id
        ) as shipment_number,

        ---------- booleans
        dated_shipments.shipped_at is not null as is_shipped,
        dated_shipments.delivered_at is not null as is_delivered,
        -- On time: delivered on or before the promised calendar date (business timezone);
        -- one day after is late. NULL until delivered.
        case
            when dated_shipments.delivered_at is not null
                then coalesce(dated_shipments.delivery_date <= dated_shipments.promised_delivery_date, false)
        end as is_on_time,

        ---------- dates (business timezone)
        dated_shipments.ship_date,
        dated_shipments.delivery_date,
        dated_shipments.promised_delivery_date,

        ---------- timestamps (UTC)
        dated_shipments.created_at,
        dated_shipments.shipped_at,
        dated_shipments.delivered_at

    from dated_shipments
    left join fx_rates as fx
        on fx.rate_date = dated_shipments.ship_date
        and fx.currency = dated_shipments.currency

)

select * from final
