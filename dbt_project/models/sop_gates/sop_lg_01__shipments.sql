{#- SOP-LG-01 (order fulfilment): one row per shipment. Process gate sop_lg_01__carrier_tracking:
    a shipment handed to a carrier names the carrier and a tracking number in the carrier's
    format (regular expressions, in the suite). Only the shipment export: the check runs even
    when the order export is held back by its intake gate. -#}

select
    shipment_id,
    order_id,
    carrier,
    tracking_number,
    status,
    shipped_at is not null or status in ('shipped', 'in_transit', 'delivered', 'lost') as is_handed_to_carrier,
    created_at,
    shipped_at,
    delivered_at,
    _loaded_at

from {{ ref('stg_logistics__shipments') }}
