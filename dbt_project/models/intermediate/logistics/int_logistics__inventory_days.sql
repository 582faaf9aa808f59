{#- One row per inventory snapshot (warehouse × SKU × day) with available stock, the stockout
    flag and the average daily demand (units of the SKU shipped from the warehouse over the 28
    days up to the snapshot; over fewer days at the start of the shipment history). -#}

{%- set demand_window_days = 28 %}

with

snapshots as (

    select * from {{ ref('stg_logistics__inventory_snapshots') }}
    where {{ not_quarantined('stg_logistics__inventory_snapshots', ['snapshot_date', 'warehouse_id', 'sku']) }}

),

shipments as (

    select * from {{ ref('int_logistics__shipments') }}

),

shipment_lines as (

    select * from {{ ref('stg_logistics__shipment_lines') }}
    where {{ not_quarantined('stg_logistics__shipment_lines', ['order_line_id']) }}

),

-- Units shipped per warehouse × SKU × ship date (the SKU actually picked).
daily_shipped_units as (

    select
        shipments.warehouse_id,
        shipment_lines.sku,
        shipments.ship_date,
        sum(shipment_lines.quantity_shipped) as units_shipped
    from shipment_lines
    inner join shipments
        on shipment_lines.shipment_id = shipments.shipment_id
    where shipments.is_shipped
    group by shipments.warehouse_id, shipment_lines.sku, shipments.ship_date

),

shipment_history as (

    select min(ship_date) as first_ship_date
    from shipments
    where is_shipped

),

-- The demand window of each snapshot: 28 days, fewer at the start of the shipment history.
snapshot_windows as (

    select
        snapshots.*,
        least(
            {{ demand_window_days }},
            {{ dbt.datediff('shipment_history.first_ship_date', 'snapshots.snapshot_date', 'day') }} + 1
        ) as window_days
    from snapshots
    cross join shipment_history

),

windowed_demand as (

    select
        snapshots.snapshot_date,
        snapshots.warehouse_id,
        snapshots.sku,
        sum(daily_shipped_units.units_shipped) as units_shipped_in_window
    from snapshots
    inner join daily_shipped_units
        on daily_shipped_units.warehouse_id = snapshots.warehouse_id
        and daily_shipped_units.sku = snapshots.sku
        and daily_shipped_units.ship_date <= snapshots.snapshot_date
        and daily_shipped_units.ship_date > cast({{ dbt.dateadd('day', -demand_window_days, 'snapshots.snapshot_date') }} as date)
    group by snapshots.snapshot_date, snapshots.warehouse_id, snapshots.sku

),

final as (

    select
        ---------- ids
        snapshots.warehouse_id,
        snapshots.sku,

        ---------- numerics
        snapshots.on_hand,
        snapshots.reserved,
        snapshots.inbound_on_order,
        coalesce(snapshots.on_hand, 0) - coalesce(snapshots.reserved, 0) as available_units,
        greatest(coalesce(snapshots.on_hand, 0) - coalesce(snapshots.reserved, 0), 0) as available_units_not_negative,
        cast(coalesce(windowed_demand.units_shipped_in_window, 0) as {{ dbt.type_bigint() }}) as units_shipped_in_window,
        snapshots.window_days as demand_window_days,
        -- units per day, rounded per SKU-day to 1e-6 as a decimal (exact sums)
        cast(
            case
                when snapshots.window_days > 0
                    then coalesce(windowed_demand.units_shipped_in_window, 0) * 1.0 / snapshots.window_days
                else 0
            end as decimal(18, 6)
        ) as average_daily_demand_units,

        ---------- booleans
        coalesce(snapshots.on_hand, 0) - coalesce(snapshots.reserved, 0) <= 0 as is_stockout,

        ---------- dates
        snapshots.snapshot_date

    from snapshot_windows as snapshots
    left join windowed_demand
        on snapshots.snapshot_date = windowed_demand.snapshot_date
        and snapshots.warehouse_id = windowed_demand.warehouse_id
        and snapshots.sku = windowed_demand.sku

)

select * from final
