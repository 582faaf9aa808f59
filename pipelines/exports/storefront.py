"""Storefront (shop platform + web analytics) exports."""
from .contract import Export, col, key

SALES_CHANNELS = ("web", "mobile_app", "marketplace")
DEVICES = ("desktop", "mobile", "tablet")
ORDER_STATUSES = ("placed", "paid", "fulfilled", "cancelled", "refunded")
WEB_EVENT_TYPES = ("page_view", "product_view", "add_to_cart", "checkout_started", "purchase")

customers = Export(
    system="storefront",
    name="customers",
    description="Customer accounts as the shop platform exports them (change export: a customer comes again when edited).",
    columns=(
        key("customer_id", "VARCHAR", "Customer id of the shop platform."),
        col("created_at", "TIMESTAMP", "When the account was created (UTC)."),
        col("updated_at", "TIMESTAMP", "Last change of the record (UTC); the newest version wins."),
        col("country", "VARCHAR", "ISO 3166-1 alpha-2 country of the default address."),
        col("marketing_opt_in", "BOOLEAN", "Customer accepts marketing e-mail."),
    ),
    primary_key=("customer_id",),
    change_timestamp="updated_at",
    event_date="updated_at",
)

products = Export(
    system="storefront",
    name="products",
    description="Product catalogue with list price and unit cost (full snapshot on every delivery).",
    columns=(
        key("sku", "VARCHAR", "Stock keeping unit, the product id across shop, WMS and MES."),
        col("product_name", "VARCHAR", "Display name."),
        col("category", "VARCHAR", "Merchandising category."),
        col("unit_price", "DECIMAL(18,4)", "List price per unit, in `currency`."),
        col("unit_cost", "DECIMAL(18,4)", "Cost of goods per unit (landed cost), in `currency`."),
        col("currency", "VARCHAR", "ISO 4217 currency of price and cost."),
        col("reorder_point", "INTEGER", "Available stock at or below which the SKU must be re-ordered."),
        col("is_active", "BOOLEAN", "The SKU is sold and stocked."),
        col("updated_at", "TIMESTAMP", "Last change of the product record (UTC)."),
    ),
    primary_key=("sku",),
    change_timestamp="updated_at",
    cadence="snapshot",
)

orders = Export(
    system="storefront",
    name="orders",
    description="Shop orders (change export: an order comes again with a newer `updated_at` when paid, cancelled or refunded).",
    columns=(
        key("order_id", "VARCHAR", "Order id."),
        col("customer_id", "VARCHAR", "Customer who placed the order."),
        col("session_id", "VARCHAR", "Web session in which the order was placed (NULL for marketplace orders)."),
        col("sales_channel", "VARCHAR", "Where the order was placed.", allowed=SALES_CHANNELS),
        col("status", "VARCHAR", "Order status at `updated_at`, in the shop's own words.", allowed=ORDER_STATUSES, seed="order_statuses"),
        col("currency", "VARCHAR", "ISO 4217 currency of all amounts of the order."),
        col("subtotal_amount", "DECIMAL(18,4)", "Sum of line amounts before discounts, tax and shipping."),
        col("discount_amount", "DECIMAL(18,4)", "Order-level discounts."),
        col("tax_amount", "DECIMAL(18,4)", "Tax charged."),
        col("shipping_amount", "DECIMAL(18,4)", "Shipping fee charged to the customer."),
        col("total_amount", "DECIMAL(18,4)", "subtotal − discount + tax + shipping."),
        col("refunded_amount", "DECIMAL(18,4)", "Amount refunded so far (0 if none)."),
        col("created_at", "TIMESTAMP", "When the order was placed (UTC)."),
        col("paid_at", "TIMESTAMP", "When payment was captured (UTC); NULL if unpaid."),
        col("cancelled_at", "TIMESTAMP", "When the order was cancelled (UTC); NULL if not."),
        col("refunded_at", "TIMESTAMP", "When the last refund was issued (UTC); NULL if none."),
        col("updated_at", "TIMESTAMP", "Last change of the order (UTC); the newest version wins."),
    ),
    primary_key=("order_id",),
    change_timestamp="updated_at",
    event_date="updated_at",
)

order_lines = Export(
    system="storefront",
    name="order_lines",
    description="Lines of each order (written once, when the order is placed).",
    columns=(
        key("order_line_id", "VARCHAR", "Order line id."),
        col("order_id", "VARCHAR", "Order the line belongs to."),
        col("sku", "VARCHAR", "Product ordered."),
        col("quantity", "INTEGER", "Units ordered. Required: SOP-LG-01's data gate compares the units shipped with it.", nullable=False),
        col("unit_price", "DECIMAL(18,4)", "Price per unit charged, in the order currency."),
        col("discount_amount", "DECIMAL(18,4)", "Line-level discount, in the order currency."),
        col("created_at", "TIMESTAMP", "When the line was created (UTC)."),
    ),
    primary_key=("order_line_id",),
    event_date="created_at",
)

web_sessions = Export(
    system="storefront",
    name="web_sessions",
    description="Web analytics sessions with UTM attribution fields and device.",
    columns=(
        key("session_id", "VARCHAR", "Session id."),
        col("visitor_id", "VARCHAR", "Anonymous visitor (cookie) id."),
        col("customer_id", "VARCHAR", "Logged-in customer, if known."),
        col("started_at", "TIMESTAMP", "Session start (UTC)."),
        col("ended_at", "TIMESTAMP", "Session end (UTC)."),
        col("device", "VARCHAR", "Device class.", allowed=DEVICES),
        col("sales_channel", "VARCHAR", "Storefront the session ran on.", allowed=SALES_CHANNELS),
        col("utm_source", "VARCHAR", "utm_source of the landing URL (NULL for direct)."),
        col("utm_medium", "VARCHAR", "utm_medium of the landing URL."),
        col("utm_campaign", "VARCHAR", "utm_campaign of the landing URL: the campaign's UTM tag; NULL = organic/direct."),
        col("landing_page", "VARCHAR", "Path of the first page."),
    ),
    primary_key=("session_id",),
    event_date="started_at",
)

web_events = Export(
    system="storefront",
    name="web_events",
    description="Web analytics events within sessions (JSON lines, as the tracking pipeline writes them).",
    columns=(
        key("event_id", "VARCHAR", "Event id."),
        col("session_id", "VARCHAR", "Session the event belongs to."),
        col("occurred_at", "TIMESTAMP", "When the event happened (UTC)."),
        col("event_type", "VARCHAR", "What happened, in the tracker's own words.", allowed=WEB_EVENT_TYPES, seed="web_event_types"),
        col("sku", "VARCHAR", "Product viewed or added (product_view, add_to_cart)."),
        col("quantity", "INTEGER", "Units added (add_to_cart)."),
        col("order_id", "VARCHAR", "Order placed (purchase events only)."),
    ),
    primary_key=("event_id",),
    format="jsonl",
    event_date="occurred_at",
)

EXPORTS = (customers, products, orders, order_lines, web_sessions, web_events)
