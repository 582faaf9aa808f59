"""MES (manufacturing execution system) exports."""
from .contract import Export, col, key

SHIFTS = ("A", "B", "C")
PASS_FAIL = ("pass", "fail")
QC_FOLLOW_UPS = ("none", "scrap", "rework")

production_runs = Export(
    system="mes",
    name="production_runs",
    description="Production runs per line and shift: the scheduled window, planned downtime and unit counts.",
    columns=(
        key("run_id", "VARCHAR", "Run id."),
        col("plant_id", "VARCHAR", "Plant."),
        col("line_id", "VARCHAR", "Production line."),
        col("sku", "VARCHAR", "Product made (storefront SKU)."),
        col("shift", "VARCHAR", "Shift code, the plant's own (the demo's: " + ", ".join(SHIFTS) + "); equipment checks use the same codes."),
        col("scheduled_start", "TIMESTAMP", "Start of the scheduled run window (UTC)."),
        col("scheduled_end", "TIMESTAMP", "End of the scheduled run window (UTC)."),
        col("planned_downtime_minutes", "DOUBLE", "Planned stops inside the window: breaks, planned changeovers."),
        col("ideal_cycle_seconds", "DOUBLE", "Rated seconds per unit of this product on this line."),
        col("total_count", "INTEGER", "Units started."),
        col("good_count", "INTEGER", "Units that passed first time."),
        col("scrap_count", "INTEGER", "Units scrapped."),
        col("rework_count", "INTEGER", "Units sent to rework."),
    ),
    primary_key=("run_id",),
    event_date="scheduled_start",
)

downtime_events = Export(
    system="mes",
    name="downtime_events",
    description="Stops of a line during a run, planned or unplanned, with a reason code.",
    columns=(
        key("downtime_id", "VARCHAR", "Downtime event id."),
        col("run_id", "VARCHAR", "Run during which the line stopped. Required: a stop without its run belongs to no run's downtime, and SOP-MF-01's data gate refuses it.", nullable=False),
        col("line_id", "VARCHAR", "Production line."),
        col("started_at", "TIMESTAMP", "Stop start (UTC)."),
        col("ended_at", "TIMESTAMP", "Stop end (UTC)."),
        col("is_planned", "BOOLEAN", "Planned stop (already in the run's planned downtime) or unplanned."),
        col("reason_code", "VARCHAR", "Reason code (SOP-MF-01: every downtime event has one)."),
    ),
    primary_key=("downtime_id",),
    event_date="started_at",
)

qc_inspections = Export(
    system="mes",
    name="qc_inspections",
    description="Quality-control inspections of run samples.",
    columns=(
        key("inspection_id", "VARCHAR", "Inspection id."),
        col("run_id", "VARCHAR", "Run inspected."),
        col("inspected_at", "TIMESTAMP", "When the sample was inspected (UTC)."),
        col("inspector_id", "VARCHAR", "Quality inspector."),
        col("sample_size", "INTEGER", "Units inspected."),
        col("defects_found", "INTEGER", "Defective units in the sample."),
        col("result", "VARCHAR", "Inspection verdict, in the MES's own words.", allowed=PASS_FAIL, seed="mes_results"),
        col("follow_up", "VARCHAR", "Action recorded after a failed inspection, in the MES's own words.", allowed=QC_FOLLOW_UPS, seed="qc_follow_ups"),
    ),
    primary_key=("inspection_id",),
    event_date="inspected_at",
)

equipment_checks = Export(
    system="mes",
    name="equipment_checks",
    description="Pre-shift equipment checks per line and shift (SOP-MF-01).",
    columns=(
        key("check_id", "VARCHAR", "Check id."),
        col("line_id", "VARCHAR", "Production line checked."),
        col("shift", "VARCHAR", "Shift the check opens (the production runs' shift codes)."),
        col("check_date", "DATE", "Production date of the shift."),
        col("checked_at", "TIMESTAMP", "When the check was done (UTC)."),
        col("operator_id", "VARCHAR", "Operator who did the check."),
        col("result", "VARCHAR", "Check verdict, in the MES's own words.", allowed=PASS_FAIL, seed="mes_results"),
    ),
    primary_key=("check_id",),
    event_date="checked_at",
)

EXPORTS = (production_runs, downtime_events, qc_inspections, equipment_checks)
