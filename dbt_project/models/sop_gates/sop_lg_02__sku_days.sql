{#- SOP-LG-02 (inventory management): one row per snapshot day × warehouse × active SKU
    (days and warehouses as delivered by the inventory export, SKUs active in the product
    catalogue), with the snapshot if there is one and the SKU's reorder point. Process gate:
    a snapshot for every active SKU every day; a SKU at or below its reorder point (available
    = on hand − reserved) has inbound stock on order. Stamped with the load time of the day's
    snapshot rows. -#}

with

snapshots as (

    select * from {{ ref('stg_logistics__inventory_snapshots') }}

),

snapshot_days as (

    select snapshot_date, warehouse_id, max(_loaded_at) as day_loaded_at
    from snapshots
    group by snapshot_date, warehouse_id

),

active_skus as (

    select sku, reorder_point
    from {{ ref('stg_storefront__products') }}
    where coalesce(is_active, false)

)

select
    snapshot_days.snapshot_date,
    snapshot_days.warehouse_id,
    active_skus.sku,
    active_skus.reorder_point,
    snapshots.sku is not null as has_snapshot,
    snapshots.on_hand,
    snapshots.reserved,
    snapshots.inbound_on_order,
    snapshots.on_hand - snapshots.reserved as available,
    coalesce(snapshots.on_hand - snapshots.reserved <= active_skus.reorder_point, false) as is_at_or_below_reorder_point,
    coalesce(snapshots._loaded_at, snapshot_days.day_loaded_at) as _loaded_at

from snapshot_days
cross join active_skus
left join snapshots
    on snapshots.snapshot_date = snapshot_days.snapshot_date
    and snapshots.warehouse_id = snapshot_days.warehouse_id
    and snapshots.sku = active_skus.sku
