"""What every KPI does with an empty value of each column the export contracts declare nullable,
and with a value its seed does not map (UNMAPPED_TREATMENTS, below).

One row per nullable contract column (a unit test holds the two sets equal): the treatment and
the KPIs it concerns. `kpi contracts` renders it into docs/export_contracts.md ("When a value is
empty"). A treatment is one of: left out of a KPI's numerator and denominator (and counted by a
named warn test where a whole row leaves a KPI), counted (in a segment `unknown`, as 0, or as
delivered), or read by no KPI (kept as delivered, NULL).
"""
from __future__ import annotations

from typing import NamedTuple


class NullTreatment(NamedTuple):
    treatment: str
    kpis: tuple[str, ...] = ()


T = NullTreatment
NO_KPI = "read by no KPI: kept as delivered (NULL)"
AOV_REV = ("sf_net_revenue_amount", "sf_average_order_value_amount")
ORDER_KPIS = (*AOV_REV, "sf_new_customer_rate", "sf_order_count", "sf_units_per_order", "sf_discount_rate", "sf_discounted_order_rate", "sf_refund_rate")
CS_CREATED = ("cs_first_response_minutes", "cs_first_response_sla_rate", "cs_escalation_rate", "cs_unanswered_tickets")
MF_TIME = ("mf_availability_rate", "mf_performance_rate", "mf_oee_rate", "mf_cycle_time_seconds", "mf_throughput_units_per_hour")
MF_ALL = (*MF_TIME, "mf_quality_rate", "mf_scrap_rate")
LG_SHIP = ("lg_transportation_cost_amount", "lg_transportation_cost_per_order_amount", "lg_transportation_cost_revenue_rate", "lg_order_to_ship_hours")

NULL_TREATMENTS: dict[tuple[str, str], NullTreatment] = {
    # --- storefront ---------------------------------------------------------------------------
    ("customers", "created_at"): T("the customer is not known to predate the order history: its first order here counts as first", ("sf_new_customer_rate",)),
    ("customers", "updated_at"): T("ordered last among the versions of the customer (the newest dated version wins)"),
    ("customers", "country"): T(NO_KPI),
    ("customers", "marketing_opt_in"): T(NO_KPI),
    ("products", "product_name"): T(NO_KPI),
    ("products", "category"): T(NO_KPI),
    ("products", "unit_price"): T(NO_KPI + " (revenue uses the order lines' own prices)"),
    ("products", "unit_cost"): T("the lines of that SKU add no cost of goods: margins are an upper bound (warn test int_storefront_orders_every_line_costed)", ("sf_clv_12m_amount", "mk_roi_rate")),
    ("products", "currency"): T("the unit cost has no rate: as a missing unit cost", ("sf_clv_12m_amount", "mk_roi_rate")),
    ("products", "reorder_point"): T("the SKU is never at or below its reorder point in the replenishment SOP (SOP-LG-02)"),
    ("products", "is_active"): T("the SKU counts as inactive: not judged by the replenishment SOP (SOP-LG-02)"),
    ("products", "updated_at"): T("ordered last among the versions of the SKU (the newest dated version wins)"),
    ("orders", "customer_id"): T("the order counts in orders and revenue, never as a customer's first or repeat order", ("sf_new_customer_rate", "mk_cac_amount", "sf_clv_12m_amount")),
    ("orders", "session_id"): T("the order has no session: not a session's conversion, not attributed to a campaign (organic); device `unknown`", ("sf_conversion_rate", "mk_conversion_rate", "mk_roas_rate", "mk_roi_rate")),
    ("orders", "sales_channel"): T("counted in the segment `unknown`", ORDER_KPIS),
    ("orders", "status"): T("not cancelled unless cancelled_at is set", ORDER_KPIS),
    ("orders", "currency"): T("no FX rate: the amounts are left out of the revenue sums and the order out of the AOV denominator (warn test int_storefront_orders_net_revenue_has_fx_rate)", (*AOV_REV, "sf_discount_rate")),
    ("orders", "subtotal_amount"): T("the order's lines give it (Σ quantity × unit_price); with no lines either, the order counts as an order but is left out of revenue, of the AOV denominator and of the discount rate (warn test int_storefront_orders_revenue_known)", (*AOV_REV, "sf_discount_rate", "mk_roas_rate", "lg_transportation_cost_revenue_rate")),
    ("orders", "discount_amount"): T("counted as 0 (no discount)", (*AOV_REV, "sf_discount_rate", "sf_discounted_order_rate")),
    ("orders", "tax_amount"): T(NO_KPI + " (net revenue excludes tax)"),
    ("orders", "shipping_amount"): T(NO_KPI + " (net revenue excludes the shipping fee)"),
    ("orders", "total_amount"): T(NO_KPI),
    ("orders", "refunded_amount"): T("counted as 0 (no refund)", ("sf_net_revenue_amount", "sf_refund_rate", "sf_refunded_amount")),
    ("orders", "created_at"): T("the order has no order date: left out of every order KPI (warn test stg_storefront__orders_created_at_known)", ORDER_KPIS),
    ("orders", "paid_at"): T("the order is not judged by the handling-time SOP (SOP-LG-01) until paid"),
    ("orders", "cancelled_at"): T("not cancelled unless status is `cancelled`", ORDER_KPIS),
    ("orders", "refunded_at"): T("the refund has no refund date: left out of the refund-date sums", ("sf_net_revenue_amount", "sf_refund_rate", "sf_refunded_amount")),
    ("orders", "updated_at"): T("ordered last among the versions of the order (the newest dated version wins)"),
    ("order_lines", "order_id"): T("the line belongs to no order: in no order's units, subtotal or fulfilment", ("sf_units_per_order", "lg_order_accuracy_rate", "lg_fill_rate", "lg_otif_rate")),
    ("order_lines", "sku"): T("the line has no product: no cost of goods (as a missing unit cost); a shipped SKU never matches it (order not accurate, the line unfilled)", ("sf_clv_12m_amount", "mk_roi_rate", "lg_order_accuracy_rate", "lg_fill_rate", "lg_otif_rate")),
    ("order_lines", "unit_price"): T("the line adds nothing to the subtotal the lines give (used only when the order has no subtotal)", AOV_REV),
    ("order_lines", "discount_amount"): T(NO_KPI + " (discounts are the order's discount_amount)"),
    ("order_lines", "created_at"): T(NO_KPI + " (lines are dated by their order)"),
    ("web_sessions", "visitor_id"): T(NO_KPI),
    ("web_sessions", "customer_id"): T(NO_KPI + " (orders carry the customer)"),
    ("web_sessions", "started_at"): T("the session has no date: left out of every session KPI (warn test stg_storefront__web_sessions_started_at_known)", ("sf_conversion_rate", "sf_cart_abandonment_rate", "mk_conversion_rate")),
    ("web_sessions", "ended_at"): T(NO_KPI),
    ("web_sessions", "device"): T("counted in the segment `unknown`", ("sf_conversion_rate", "sf_cart_abandonment_rate")),
    ("web_sessions", "sales_channel"): T("counted in the segment `unknown`", ("sf_conversion_rate", "sf_cart_abandonment_rate")),
    ("web_sessions", "utm_source"): T(NO_KPI + " (attribution uses utm_campaign)"),
    ("web_sessions", "utm_medium"): T(NO_KPI + " (attribution uses utm_campaign)"),
    ("web_sessions", "utm_campaign"): T("organic/direct: the session and its orders are in the `organic` campaign segment", ("mk_conversion_rate", "mk_roas_rate", "mk_roi_rate", "mk_cac_amount")),
    ("web_sessions", "landing_page"): T(NO_KPI),
    ("web_events", "session_id"): T("the event belongs to no session: no add-to-cart of any session", ("sf_cart_abandonment_rate",)),
    ("web_events", "occurred_at"): T("counted with its session (sessions are dated by their start)", ("sf_cart_abandonment_rate",)),
    ("web_events", "event_type"): T("not an add-to-cart: the session does not count as a cart", ("sf_cart_abandonment_rate",)),
    ("web_events", "sku"): T(NO_KPI),
    ("web_events", "quantity"): T(NO_KPI),
    ("web_events", "order_id"): T(NO_KPI + " (purchases come from the shop's orders)"),
    # --- helpdesk -----------------------------------------------------------------------------
    ("tickets", "created_at"): T("the ticket has no created date: left out of the created-date KPIs and of resolution time; still counted by solve and survey dates (warn test stg_helpdesk__tickets_created_at_known)", (*CS_CREATED, "cs_resolution_minutes")),
    ("tickets", "updated_at"): T("ordered last among the versions of the ticket (the newest dated version wins)"),
    ("tickets", "channel"): T("counted in the channel `unknown`, which has no SLA: never unanswered, out of SLA attainment (warn test stg_helpdesk__tickets_channel_known)", (*CS_CREATED, "cs_first_contact_resolution_rate", "cs_resolution_minutes", "cs_csat_rate", "cs_csat_score", "cs_reopen_rate", "cs_one_touch_resolution_rate")),
    ("tickets", "priority"): T(NO_KPI + " (SOP-CS-02 judges priority tickets only)"),
    ("tickets", "status"): T("the ticket counts as not solved (left out of resolution time and one-touch resolution) and never as unanswered; its solve events still count for first-contact resolution and reopen rate", ("cs_resolution_minutes", "cs_unanswered_tickets", "cs_one_touch_resolution_rate")),
    ("tickets", "category"): T(NO_KPI + " (SOP-CS-01 reports solved tickets without one)"),
    ("tickets", "requester_id"): T(NO_KPI),
    ("tickets", "order_id"): T(NO_KPI),
    ("tickets", "assignee_id"): T(NO_KPI + " (SOP-CS-02 hand-off check)"),
    ("tickets", "solved_at"): T("the solve events of the interactions give the solve dates; with none, the ticket is not solved", ("cs_first_contact_resolution_rate", "cs_resolution_minutes", "cs_reopen_rate", "cs_one_touch_resolution_rate")),
    ("ticket_interactions", "ticket_id"): T("the interaction belongs to no ticket: in no KPI (warn test stg_helpdesk__ticket_interactions_ticket_known)", ("cs_first_response_minutes", "cs_first_response_sla_rate", "cs_first_contact_resolution_rate", "cs_escalation_rate", "cs_reopen_rate", "cs_one_touch_resolution_rate")),
    ("ticket_interactions", "created_at"): T("gives its ticket no time (first response, solve dates); the ticket's counts (agent replies, reopened, escalated) still include it (warn test stg_helpdesk__ticket_interactions_created_at_known)", ("cs_first_response_minutes", "cs_first_response_sla_rate", "cs_resolution_minutes", "cs_first_contact_resolution_rate", "cs_reopen_rate", "cs_one_touch_resolution_rate")),
    ("ticket_interactions", "author_role"): T("not an agent's reply", ("cs_first_response_minutes", "cs_first_response_sla_rate", "cs_first_contact_resolution_rate", "cs_unanswered_tickets", "cs_one_touch_resolution_rate")),
    ("ticket_interactions", "author_id"): T(NO_KPI),
    ("ticket_interactions", "channel"): T(NO_KPI + " (tickets are segmented by the ticket's channel)"),
    ("ticket_interactions", "is_public"): T("not public: not a reply the customer saw", ("cs_first_response_minutes", "cs_first_response_sla_rate", "cs_first_contact_resolution_rate", "cs_unanswered_tickets", "cs_one_touch_resolution_rate")),
    ("ticket_interactions", "event_type"): T("not a message, solve, reopen or escalation: in no count", ("cs_first_response_minutes", "cs_first_response_sla_rate", "cs_first_contact_resolution_rate", "cs_escalation_rate", "cs_reopen_rate", "cs_one_touch_resolution_rate")),
    ("ticket_interactions", "escalation_tier"): T(NO_KPI + " (SOP-CS-02 hand-off check)"),
    ("ticket_interactions", "assignee_id"): T(NO_KPI + " (SOP-CS-02 hand-off check)"),
    ("csat_responses", "ticket_id"): T("the answer counts in the channel `unknown`", ("cs_csat_rate", "cs_csat_score")),
    ("csat_responses", "sent_at"): T(NO_KPI + " (answers are dated by responded_at)"),
    ("csat_responses", "responded_at"): T("unanswered: left out of both CSAT KPIs (warn test stg_helpdesk__csat_responses_score_iff_responded if it has a score)", ("cs_csat_rate", "cs_csat_score")),
    ("csat_responses", "score"): T("unanswered: left out of both CSAT KPIs (warn test stg_helpdesk__csat_responses_score_iff_responded if it has a response time)", ("cs_csat_rate", "cs_csat_score")),
    # --- mes ----------------------------------------------------------------------------------
    ("production_runs", "plant_id"): T("counted in the plant `unknown`", MF_ALL),
    ("production_runs", "line_id"): T("counted in the production line `unknown`", MF_ALL),
    ("production_runs", "sku"): T(NO_KPI + " (the run carries its own ideal cycle time)"),
    ("production_runs", "shift"): T(NO_KPI + " (SOP-MF-01 pairs runs with the shift's equipment check)"),
    ("production_runs", "scheduled_start"): T("the run has no window: no run date nor time model, left out of every manufacturing KPI (warn test stg_mes__production_runs_window_known)", MF_ALL),
    ("production_runs", "scheduled_end"): T("as scheduled_start (warn test stg_mes__production_runs_window_known)", MF_ALL),
    ("production_runs", "planned_downtime_minutes"): T("no planned stop: the whole scheduled window is planned production time", MF_TIME),
    ("production_runs", "ideal_cycle_seconds"): T("the run adds nothing to the ideal-time numerators; its times stay in the denominators", ("mf_performance_rate", "mf_oee_rate")),
    ("production_runs", "total_count"): T("the run adds no units to the totals (denominators); its good and scrapped units still count", ("mf_quality_rate", "mf_scrap_rate", "mf_performance_rate", "mf_cycle_time_seconds")),
    ("production_runs", "good_count"): T("its units count in the total with no good units", ("mf_quality_rate", "mf_oee_rate", "mf_throughput_units_per_hour")),
    ("production_runs", "scrap_count"): T("the run adds nothing to the scrap numerator", ("mf_scrap_rate",)),
    ("production_runs", "rework_count"): T(NO_KPI),
    ("downtime_events", "line_id"): T(NO_KPI + " (stops are a run's, by run_id)"),
    ("downtime_events", "started_at"): T("the stop has no span: no run's downtime", MF_TIME),
    ("downtime_events", "ended_at"): T("the stop has no span: no run's downtime", MF_TIME),
    ("downtime_events", "is_planned"): T("the stop counts as unplanned downtime", MF_TIME),
    ("downtime_events", "reason_code"): T(NO_KPI + " (SOP-MF-01 reports stops without one)"),
    ("qc_inspections", "run_id"): T(NO_KPI + " (SOP-MF-02 counts a run's inspections)"),
    ("qc_inspections", "inspected_at"): T(NO_KPI),
    ("qc_inspections", "inspector_id"): T(NO_KPI),
    ("qc_inspections", "sample_size"): T(NO_KPI + " (SOP-MF-02 smallest sample)"),
    ("qc_inspections", "defects_found"): T(NO_KPI),
    ("qc_inspections", "result"): T(NO_KPI + " (SOP-MF-02: not a failed inspection)"),
    ("qc_inspections", "follow_up"): T(NO_KPI + " (SOP-MF-02: a failed inspection without follow-up)"),
    ("equipment_checks", "line_id"): T(NO_KPI + " (SOP-MF-01: the check opens no line's shift)"),
    ("equipment_checks", "shift"): T(NO_KPI + " (SOP-MF-01: the check opens no shift)"),
    ("equipment_checks", "check_date"): T(NO_KPI),
    ("equipment_checks", "checked_at"): T(NO_KPI + " (SOP-MF-01: not done before the shift)"),
    ("equipment_checks", "operator_id"): T(NO_KPI),
    ("equipment_checks", "result"): T(NO_KPI + " (SOP-MF-01: not a passed check)"),
    # --- ads ----------------------------------------------------------------------------------
    ("campaigns", "platform"): T(NO_KPI + " (spend rows carry their own platform)"),
    ("campaigns", "campaign_name"): T(NO_KPI),
    ("campaigns", "utm_campaign"): T("no session links to the campaign: its sessions and orders are organic", ("mk_conversion_rate", "mk_roas_rate", "mk_roi_rate", "mk_cac_amount")),
    ("campaigns", "budget_amount"): T(NO_KPI + " (SOP-MK-01 pacing)"),
    ("campaigns", "currency"): T(NO_KPI + " (spend rows carry their own currency)"),
    ("campaigns", "start_date"): T(NO_KPI + " (SOP-MK-01/02 flight checks)"),
    ("campaigns", "end_date"): T(NO_KPI + " (SOP-MK-01/02 flight checks)"),
    ("campaigns", "approved_at"): T(NO_KPI + " (SOP-MK-01: not approved)"),
    ("campaigns", "owner"): T(NO_KPI),
    ("campaigns", "updated_at"): T("ordered last among the versions of the campaign (the newest dated version wins)"),
    ("ad_spend_daily", "impressions"): T("the row adds nothing to impressions; its clicks and spend still count (its spend raises CPM)", ("mk_ctr_rate", "mk_cpm_amount")),
    ("ad_spend_daily", "clicks"): T("the row adds nothing to clicks; its impressions and spend still count", ("mk_ctr_rate", "mk_cpc_amount")),
    ("ad_spend_daily", "spend_amount"): T("the row adds nothing to spend", ("mk_spend_amount", "mk_cpc_amount", "mk_cpm_amount", "mk_roas_rate", "mk_roi_rate", "mk_cac_amount")),
    ("ad_spend_daily", "currency"): T("no FX rate: the spend is left out of the sums (SOP-MK-02's FX coverage gate names the currency and days)", ("mk_spend_amount", "mk_cpc_amount", "mk_cpm_amount", "mk_roas_rate", "mk_roi_rate", "mk_cac_amount")),
    # --- finance ------------------------------------------------------------------------------
    ("fx_rates", "rate"): T("no rate that day: the previous day's rate carries forward; amounts without any rate are left out of the sums", ("sf_net_revenue_amount", "mk_spend_amount", "lg_transportation_cost_amount")),
    # --- logistics ----------------------------------------------------------------------------
    ("shipments", "order_id"): T("the shipment belongs to no order: counted in the shipment KPIs, in no order KPI", ("lg_order_accuracy_rate", "lg_fill_rate", "lg_perfect_order_rate", "lg_otif_rate", "lg_return_rate", "lg_transportation_cost_per_order_amount")),
    ("shipments", "warehouse_id"): T("counted in the warehouse `unknown`", ("lg_on_time_delivery_rate", *LG_SHIP)),
    ("shipments", "carrier"): T("counted in the carrier `unknown`", ("lg_on_time_delivery_rate", *LG_SHIP)),
    ("shipments", "service_level"): T(NO_KPI),
    ("shipments", "tracking_number"): T(NO_KPI + " (SOP-LG-01 reports shipments without one)"),
    ("shipments", "status"): T("delivered when delivered_at is set, shipped when shipped_at is set", ("lg_on_time_delivery_rate", *LG_SHIP)),
    ("shipments", "created_at"): T(NO_KPI),
    ("shipments", "shipped_at"): T("a delivered shipment counts for on-time delivery; left out of the KPIs that need the hand-over time and its order out of the order KPIs (warn test int_logistics_shipments_delivered_has_shipped_at)", (*LG_SHIP, "lg_ship_to_delivery_hours")),
    ("shipments", "promised_delivery_date"): T("the delivered shipment is not on time (no promise kept)", ("lg_on_time_delivery_rate", "lg_perfect_order_rate", "lg_otif_rate")),
    ("shipments", "delivered_at"): T("not delivered yet: in no delivery-date KPI", ("lg_on_time_delivery_rate", "lg_perfect_order_rate", "lg_otif_rate", "lg_return_rate", "lg_ship_to_delivery_hours")),
    ("shipments", "shipping_cost"): T("the shipment adds nothing to the cost sums", LG_SHIP[:3]),
    ("shipments", "currency"): T("no FX rate: the cost is left out of the sums", LG_SHIP[:3]),
    ("shipments", "weight_kg"): T(NO_KPI),
    ("shipments", "updated_at"): T("ordered last among the versions of the shipment (the newest dated version wins)"),
    ("shipment_lines", "shipment_id"): T("the line belongs to no shipment: no order's shipped units, no demand", ("lg_order_accuracy_rate", "lg_fill_rate", "lg_otif_rate", "lg_inventory_days_of_supply")),
    ("shipment_lines", "sku"): T("a wrong SKU for its order line (order not accurate, the line unfilled); no SKU's demand", ("lg_order_accuracy_rate", "lg_fill_rate", "lg_perfect_order_rate", "lg_otif_rate", "lg_inventory_days_of_supply")),
    ("shipment_lines", "quantity_shipped"): T("no units shipped: the order line is short (order not accurate, its units unfilled)", ("lg_order_accuracy_rate", "lg_fill_rate", "lg_otif_rate", "lg_inventory_days_of_supply")),
    ("shipment_lines", "created_at"): T(NO_KPI + " (lines are dated by their shipment)"),
    ("returns", "order_id"): T("the return belongs to no order: in no order's return", ("lg_return_rate", "lg_perfect_order_rate", "lg_order_accuracy_rate", "lg_refund_lead_time_hours")),
    ("returns", "order_line_id"): T(NO_KPI + " (returns count per order)"),
    ("returns", "sku"): T(NO_KPI),
    ("returns", "quantity"): T(NO_KPI + " (SOP-RT-01 refund check)"),
    ("returns", "reason"): T("not a wrong-item, missing-item nor damaged return; still a return", ("lg_return_rate", "lg_order_accuracy_rate", "lg_perfect_order_rate")),
    ("returns", "requested_at"): T(NO_KPI),
    ("returns", "received_at"): T("left out of the refund lead time", ("lg_refund_lead_time_hours",)),
    ("returns", "refund_amount"): T("the refund adds nothing to the refunded amount", ("sf_net_revenue_amount", "sf_refund_rate", "sf_refunded_amount")),
    ("returns", "currency"): T("no FX rate: the refund is left out of the refunded amount", ("sf_net_revenue_amount", "sf_refund_rate", "sf_refunded_amount")),
    ("returns", "refunded_at"): T("not refunded yet: in no refund-date KPI", ("lg_refund_lead_time_hours", "sf_net_revenue_amount", "sf_refund_rate", "sf_refunded_amount")),
    ("returns", "updated_at"): T("ordered last among the versions of the return (the newest dated version wins)"),
    ("inventory_snapshots", "on_hand"): T("counted as 0 on hand: the SKU-day is a stockout", ("lg_stockout_rate", "lg_inventory_days_of_supply")),
    ("inventory_snapshots", "reserved"): T("counted as 0 reserved", ("lg_stockout_rate", "lg_inventory_days_of_supply")),
    ("inventory_snapshots", "inbound_on_order"): T(NO_KPI + " (SOP-LG-02 replenishment)"),
}


# What the KPIs do with a value of a seed-mapped column (contract `seed=`) that has no row in its seed:
# it is kept as delivered, counts as none of the meanings the logic reads, and its warn test
# (contract.unmapped_test) stores it; `kpi run` prints the values with their row counts and the seed.
# One row per seed-mapped column (a unit test holds the two sets equal).
UNMAPPED_TREATMENTS: dict[tuple[str, str], NullTreatment] = {
    ("orders", "status"): T("not cancelled unless cancelled_at is set: an order like any other", ORDER_KPIS),
    ("web_events", "event_type"): T("not an add-to-cart: the session does not count as a cart", ("sf_cart_abandonment_rate",)),
    ("tickets", "status"): T("neither solved nor closed: an open ticket (not solved, left out of resolution time and one-touch resolution; unanswered once past its channel's SLA without an agent reply)", ("cs_resolution_minutes", "cs_unanswered_tickets", "cs_one_touch_resolution_rate")),
    ("ticket_interactions", "author_role"): T("not an agent: its messages are not agent replies", ("cs_first_response_minutes", "cs_first_response_sla_rate", "cs_first_contact_resolution_rate", "cs_unanswered_tickets", "cs_one_touch_resolution_rate")),
    ("ticket_interactions", "event_type"): T("not a message, solve, reopen or escalation: in no count", ("cs_first_response_minutes", "cs_first_response_sla_rate", "cs_first_contact_resolution_rate", "cs_escalation_rate", "cs_reopen_rate", "cs_one_touch_resolution_rate")),
    ("shipments", "status"): T(NO_KPI.replace(" (NULL)", "") + " (KPIs read delivered_at and shipped_at; SOP-LG-01: handed to the carrier only when shipped_at is set)"),
    ("returns", "reason"): T("not a wrong-item, missing-item nor damaged return; still a return", ("lg_return_rate", "lg_order_accuracy_rate", "lg_perfect_order_rate")),
    ("qc_inspections", "result"): T(NO_KPI.replace(" (NULL)", "") + " (SOP-MF-02: not a failed inspection)"),
    ("qc_inspections", "follow_up"): T(NO_KPI.replace(" (NULL)", "") + " (SOP-MF-02: a failed inspection without follow-up)"),
    ("equipment_checks", "result"): T(NO_KPI.replace(" (NULL)", "") + " (SOP-MF-01: not a passed check)"),
}
