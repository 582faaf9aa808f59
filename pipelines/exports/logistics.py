"""3PL / WMS exports: shipments, returns and inventory."""
from .contract import Export, col, key

CARRIERS = ("ups", "dhl", "fedex", "usps")
SHIPMENT_STATUSES = ("created", "shipped", "in_transit", "delivered", "lost")
RETURN_REASONS = ("wrong_item", "missing_item", "damaged", "not_as_described", "changed_mind", "other")

shipments = Export(
    system="logistics",
    name="shipments",
    description="Outbound shipments (change export: a shipment comes again with a newer `updated_at` when it moves).",
    columns=(
        key("shipment_id", "VARCHAR", "Shipment id."),
        col("order_id", "VARCHAR", "Order shipped."),
        col("warehouse_id", "VARCHAR", "Warehouse that shipped it."),
        col("carrier", "VARCHAR", "Carrier.", allowed=CARRIERS),
        col("service_level", "VARCHAR", "Carrier service (standard, express)."),
        col("tracking_number", "VARCHAR", "Carrier tracking number (SOP-LG-01: every shipment has one)."),
        col("status", "VARCHAR", "Status at `updated_at`, in the shipping system's own words.", allowed=SHIPMENT_STATUSES, seed="shipment_statuses"),
        col("created_at", "TIMESTAMP", "When the shipment was created in the WMS (UTC)."),
        col("shipped_at", "TIMESTAMP", "Handed to the carrier (UTC)."),
        col("promised_delivery_date", "DATE", "Delivery date promised to the customer (business timezone)."),
        col("delivered_at", "TIMESTAMP", "Delivered (UTC); NULL until delivered."),
        col("shipping_cost", "DECIMAL(18,4)", "Carrier charge, in `currency`."),
        col("currency", "VARCHAR", "ISO 4217 currency of the carrier charge."),
        col("weight_kg", "DOUBLE", "Billed weight."),
        col("updated_at", "TIMESTAMP", "Last change (UTC); the newest version wins."),
    ),
    primary_key=("shipment_id",),
    change_timestamp="updated_at",
    event_date="updated_at",
)

shipment_lines = Export(
    system="logistics",
    name="shipment_lines",
    description="What each shipment contained, line by line.",
    columns=(
        key("shipment_line_id", "VARCHAR", "Shipment line id."),
        col("shipment_id", "VARCHAR", "Shipment."),
        col("order_line_id", "VARCHAR", "Order line fulfilled. Required: SOP-LG-01's data gate compares the units shipped with the line's units ordered.", nullable=False),
        col("sku", "VARCHAR", "SKU actually picked and shipped."),
        col("quantity_shipped", "INTEGER", "Units shipped."),
        col("created_at", "TIMESTAMP", "When the line was packed (UTC)."),
    ),
    primary_key=("shipment_line_id",),
    event_date="created_at",
)

returns = Export(
    system="logistics",
    name="returns",
    description="Customer returns (change export: a return comes again when received and when refunded).",
    columns=(
        key("return_id", "VARCHAR", "Return id."),
        col("order_id", "VARCHAR", "Order returned from."),
        col("order_line_id", "VARCHAR", "Order line returned."),
        col("sku", "VARCHAR", "SKU returned."),
        col("quantity", "INTEGER", "Units returned."),
        col("reason", "VARCHAR", "Return reason, in the business's own words (SOP-RT-01: every return has one).", allowed=RETURN_REASONS, seed="return_reasons"),
        col("requested_at", "TIMESTAMP", "Return requested by the customer (UTC)."),
        col("received_at", "TIMESTAMP", "Return received at the warehouse (UTC)."),
        col("refund_amount", "DECIMAL(18,4)", "Refund issued, in `currency`."),
        col("currency", "VARCHAR", "ISO 4217 currency of the refund."),
        col("refunded_at", "TIMESTAMP", "Refund issued (UTC); NULL until refunded."),
        col("updated_at", "TIMESTAMP", "Last change (UTC); the newest version wins."),
    ),
    primary_key=("return_id",),
    change_timestamp="updated_at",
    event_date="updated_at",
)

inventory_snapshots = Export(
    system="logistics",
    name="inventory_snapshots",
    description="End-of-day stock per warehouse and SKU (Parquet, as the WMS writes it).",
    columns=(
        key("snapshot_date", "DATE", "Day of the snapshot (business timezone)."),
        key("warehouse_id", "VARCHAR", "Warehouse."),
        key("sku", "VARCHAR", "SKU."),
        col("on_hand", "INTEGER", "Units physically on hand."),
        col("reserved", "INTEGER", "Units reserved for open orders."),
        col("inbound_on_order", "INTEGER", "Units on open purchase orders (SOP-LG-02)."),
    ),
    primary_key=("snapshot_date", "warehouse_id", "sku"),
    format="parquet",
    event_date="snapshot_date",
)

EXPORTS = (shipments, shipment_lines, returns, inventory_snapshots)
