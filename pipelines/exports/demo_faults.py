"""Faults the demo generator can inject (`kpi demo-data --faults`): realistic breaches of every SOP.

Each fault is what an operation or a source system really gets wrong, placed in the last days of
the demo period, and names the SOP gate (expectations/<suite>.json) that catches it. `--faults`
alone injects DEFAULT_FAULTS (one or more per SOP: every SOP's compliance drops below 100 %);
`--faults all` injects every fault; `--faults name,name` a chosen few. docs/faults.md is rendered
from this list (`python -m pipelines.exports.demo_faults` rewrites it; a test keeps it current).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FAULT_DAYS = 5  # most faults hit the last FAULT_DAYS days of the period


@dataclass(frozen=True)
class Fault:
    name: str
    sop_id: str
    suite: str  # the gate that catches it
    kind: str  # data (a blocking gate fails: the KPIs downstream are not built) or process (compliance drops)
    export: str  # the export(s) it changes
    expectation: str  # the expectation (meta.id in the suite) that fails
    description: str
    default: bool = False


FAULTS: tuple[Fault, ...] = (
    # --- SOP-CS-01 customer inquiries
    Fault("late_first_responses", "SOP-CS-01", "sop_cs_01__first_response", "process", "helpdesk/ticket_interactions", "email_first_response_within_sla",
          "The e-mail queue was unstaffed for the last 5 days: the first agent reply to every e-mail ticket opened "
          "then came 26-40 h after the ticket (SLA 24 h).", default=True),
    Fault("ticket_solved_before_created", "SOP-CS-01", "sop_cs_01__tickets", "data", "helpdesk/tickets",
          "solved_not_before_created",
          "A helpdesk migration wrote one ticket's solve time 3 h before the ticket was created."),
    Fault("solved_without_category", "SOP-CS-01", "sop_cs_01__first_response", "process", "helpdesk/tickets", "solved_ticket_has_category",
          "A quarter of the tickets opened in the last 5 days were solved without a contact-reason category."),
    # --- SOP-CS-02 escalation
    Fault("escalation_missed", "SOP-CS-02", "sop_cs_02__escalation_due", "process", "helpdesk/tickets, ticket_interactions", "unescalated_priority_ticket_solved_within_24h",
          "Tier 2 was away: high and urgent tickets opened in the last 5 days stayed 28-44 h with tier 1 and were "
          "solved there, never escalated (rule: escalate when not solved within 24 h).", default=True),
    Fault("escalation_without_tier", "SOP-CS-02", "sop_cs_02__escalation_handoff", "process", "helpdesk/ticket_interactions", "escalation_names_tier",
          "Escalations of the last 5 days were recorded without the tier and the specialist taking the ticket."),
    Fault("escalated_before_created", "SOP-CS-02", "sop_cs_02__escalation_times", "data", "helpdesk/ticket_interactions", "escalated_after_ticket_created",
          "Clock skew in the helpdesk: one escalation is stamped 2 h before its ticket was created."),
    # --- SOP-MF-01 equipment operation
    Fault("run_without_equipment_check", "SOP-MF-01", "sop_mf_01__equipment_checks", "process", "mes/equipment_checks", "run_has_passed_equipment_check",
          "Line 1 ran its shifts of the last 3 days without the pre-shift equipment check.", default=True),
    Fault("downtime_without_reason", "SOP-MF-01", "sop_mf_01__downtime_reasons", "process", "mes/downtime_events", "downtime_has_reason_code",
          "A third of the unplanned stops of the last 5 days were recorded without a reason code."),
    Fault("downtime_outside_run", "SOP-MF-01", "sop_mf_01__downtime_windows", "data", "mes/downtime_events",
          "downtime_inside_run_window",
          "An operator closed a stop 40 min after its run had ended: the event lies partly outside the run's window."),
    Fault("overlapping_runs", "SOP-MF-01", "sop_mf_01__run_schedule", "data", "mes/production_runs", "no_overlap_with_previous_run",
          "A run was closed 45 min late in the MES, overlapping the next run on its line."),
    # --- SOP-MF-02 quality control
    Fault("run_without_qc", "SOP-MF-02", "sop_mf_02__qc_inspections", "process", "mes/qc_inspections", "run_has_qc_inspection",
          "The quality inspector of line 2 was absent: its runs of the last 3 days have no QC inspection.", default=True),
    Fault("counts_contradict", "SOP-MF-02", "sop_mf_02__run_counts", "data", "mes/production_runs", "good_plus_scrap_not_above_total",
          "A counter reset: one run reports good + scrap above its total count."),
    # --- SOP-MK-01 campaign planning
    Fault("campaign_over_budget", "SOP-MK-01", "sop_mk_01__campaign_plans", "process", "ads/ad_spend_daily", "spend_within_budget_tolerance",
          "A campaign's daily cap was lifted: its spend of the last 5 days takes it to 130 % of its budget.", default=True),
    Fault("campaign_approved_late", "SOP-MK-01", "sop_mk_01__campaign_plans", "process", "ads/campaigns", "approved_before_start",
          "The newest campaign was approved 2 days after its flight had started."),
    Fault("spend_from_unknown_campaign", "SOP-MK-01", "sop_mk_01__spend_campaigns", "data", "ads/ad_spend_daily", "spend_campaign_in_campaign_export",
          "A test campaign (CMP-9999) spent money but is not in the campaign export."),
    # --- SOP-MK-02 analytics and reporting
    Fault("spend_day_missing", "SOP-MK-02", "sop_mk_02__spend_export_gaps", "process", "ads/ad_spend_daily", "spend_exported_every_campaign_day",
          "The connector of one platform missed a day: an active campaign has no spend row 3 days before the end.",
          default=True),
    Fault("clicks_above_impressions", "SOP-MK-02", "sop_mk_02__spend_values", "data", "ads/ad_spend_daily", "clicks_not_above_impressions",
          "A platform export swapped two columns: one row has more clicks than impressions."),
    Fault("missing_fx_rates", "SOP-MK-02", "sop_mk_02__fx_coverage", "data", "finance/fx_rates", "fx_rate_recent",
          "The rate feed stopped publishing GBP for the last 7 days (rates older than 5 days)."),
    # --- SOP-LG-01 order fulfilment
    Fault("missing_tracking_numbers", "SOP-LG-01", "sop_lg_01__carrier_tracking", "process", "logistics/shipments", "shipment_has_tracking_number",
          "A label printer was down: 15 shipments of the last 5 days were handed over without a tracking number.",
          default=True),
    Fault("slow_fulfilment", "SOP-LG-01", "sop_lg_01__handling_time", "process", "logistics/shipments", "paid_order_shipped_within_handling_time",
          "A warehouse backlog: orders paid in the last 5 days leave 60-90 h after payment (handling time 48 h)."),
    Fault("over_shipment", "SOP-LG-01", "sop_lg_01__shipment_quantities", "data", "logistics/shipment_lines", "shipped_not_above_ordered",
          "A picking error recorded 2 units more than ordered on one shipment line."),
    Fault("delivered_before_shipped", "SOP-LG-01", "sop_lg_01__shipment_timeline", "data", "logistics/shipments", "delivered_not_before_shipped",
          "A carrier's scan shows a delivery 1 day before the parcel was handed over."),
    # --- SOP-LG-02 inventory management
    Fault("missing_inventory_snapshot", "SOP-LG-02", "sop_lg_02__replenishment", "process", "logistics/inventory_snapshots", "active_sku_has_daily_snapshot",
          "The WMS skipped 10 active SKUs in one day's end-of-day snapshot.", default=True),
    Fault("no_reorder_below_rop", "SOP-LG-02", "sop_lg_02__replenishment", "process", "logistics/inventory_snapshots", "reorder_point_breach_has_inbound",
          "Purchasing did not order: SKUs at or below their reorder point in the last 5 days have nothing inbound."),
    Fault("reserved_above_on_hand", "SOP-LG-02", "sop_lg_02__stock_levels", "data", "logistics/inventory_snapshots", "reserved_not_above_on_hand",
          "A WMS glitch: one snapshot row reserves more units than are on hand."),
    # --- SOP-RT-01 returns processing
    Fault("late_refunds", "SOP-RT-01", "sop_rt_01__returns_processing", "process", "logistics/returns", "refund_within_5_days_of_receipt",
          "Finance was short-staffed: returns received in the last 15 days were refunded 7-10 days later (rule: 5).",
          default=True),
    Fault("return_without_reason", "SOP-RT-01", "sop_rt_01__returns_processing", "process", "logistics/returns", "return_has_reason",
          "A fifth of the returns requested in the last 5 days have no reason."),
    Fault("refund_above_value", "SOP-RT-01", "sop_rt_01__refund_amounts", "data", "logistics/returns", "refund_not_above_returned_value",
          "One refund paid 150 % of the returned units' value."),
    # --- SOP-DATA-01 export intake
    Fault("duplicate_order_id", "SOP-DATA-01", "sop_data_01__export_intake", "data", "storefront/orders", "no_rows_quarantined",
          "The shop exported one order version twice with different totals (same order id, same updated_at).",
          default=True),
    Fault("broken_export_file", "SOP-DATA-01", "sop_data_01__export_intake", "data", "storefront/web_events", "no_rows_quarantined",
          "A web-events file of the last days has a line cut off mid-record (not valid JSON): the row is "
          "quarantined by the loader.", default=True),
    Fault("truncated_export_file", "SOP-DATA-01", "sop_data_01__export_volume", "process", "storefront/web_sessions", "daily_volume_within_band",
          "The web-sessions file of 3 days before the end was truncated in transfer to a tenth of its rows."),
)

BY_NAME = {f.name: f for f in FAULTS}
DEFAULT_FAULTS = tuple(f.name for f in FAULTS if f.default)


def resolve(faults) -> frozenset[str]:
    """`faults` as the generator takes it: None/False (none), True or "default", "all", or names (list or comma text)."""
    if faults in (None, False, "", ()):
        return frozenset()
    if faults is True or faults == "default":
        return frozenset(DEFAULT_FAULTS)
    if faults == "all":
        return frozenset(BY_NAME)
    names = [n.strip() for n in (faults.split(",") if isinstance(faults, str) else faults) if n.strip()]
    unknown = sorted(set(names) - set(BY_NAME))
    if unknown:
        raise ValueError(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)} (or 'default', 'all')")
    return frozenset(names)


def render_faults_doc() -> str:
    lines = [
        "# Demo faults: what `kpi demo-data --faults` breaks and which gate catches it",
        "",
        "<!-- Generated from pipelines/exports/demo_faults.py (`python -m pipelines.exports.demo_faults`). -->",
        "",
        "`kpi demo-data --faults` (or `kpi demo --faults`, `make demo FAULTS=1`) injects the faults marked",
        "*default*: at least one per SOP, so every SOP's compliance drops below 100 %, plus two broken",
        "deliveries that stop the KPI marts downstream of them while the other domains are built.",
        "`--faults all` injects every fault below; `--faults name,name` a chosen few.",
        "",
        "A *data* fault breaks a data gate (blocking check). Below the gate's tolerance (GX `mostly` in its",
        "suite: 0.99 on the data gates that have one, i.e. up to 1 % of the rows the gate judges, counted",
        "per expectation) the gate passes with a warning and quarantines the offending rows: they are kept",
        "in `ops.sop_quarantine` (SOP, gate, key, reason), left out of the domain's KPIs and counted in the",
        "SOP's compliance; the run goes on. Above it, or on an expectation without one (the export intake",
        "of SOP-DATA-01, the FX coverage of SOP-MK-02, the unique ticket id of SOP-CS-01), the gate fails:",
        "the KPI models downstream of the asset it sits on are not built in that run and keep their last",
        "good rows, marked stale. The long KPI table is still built, with every other domain's fresh KPIs",
        "and the held domain's last good rows, and `kpi run` publishes it in a run of its own (job",
        "`publish_kpis`): the snapshot, the dashboard and `kpi summary` show the domain as stale. A fault",
        "of one row is thus quarantined when the gate judges 100 rows or more (a whole export, the",
        "first run) and holds the domain back when it judges fewer (a small daily delivery).",
        "A *process* fault makes a process gate fail (warn): the pipeline runs on, the SOP's compliance",
        "rate drops. Gates: `expectations/sops.yml`, thresholds and tolerances: `expectations/<suite>.json`.",
        "",
        "| fault | SOP | kind | export changed | caught by gate (expectation) | default | what happens |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in FAULTS:
        lines.append(f"| `{f.name}` | {f.sop_id} | {f.kind} | {f.export} | `{f.suite}` (`{f.expectation}`) | "
                     f"{'yes' if f.default else ''} | {f.description} |")
    return "\n".join(lines) + "\n"


DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "faults.md"

if __name__ == "__main__":
    DOC_PATH.write_text(render_faults_doc())
    print(f"wrote {DOC_PATH}")
