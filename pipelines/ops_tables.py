"""The warehouse's `ops` schema, what the pipeline records about its own runs: the one home of its names.

The tables of the SOP gate steps and the dbt steps (their layout in dbt: macros/sop_ops_tables.sql; dbt reads them as source `ops`)
and the tables written by the alerts, the freshness checks and the publish step.
"""
from __future__ import annotations

SCHEMA = "ops"

# Written by the gate steps and the dbt steps (pipelines/sop/refresh.py, pipelines/sop/results.py)
RESULTS = "ops.sop_check_results"  # one row per expectation of an SOP gate evaluated in a run
REFRESH_LOG = "ops.sop_refresh_log"  # one row per refresh: models built, held back and by what
MART_STATE = "ops.kpi_mart_state"  # per KPI mart: last built, held back by which gate
QUARANTINE = "ops.sop_quarantine"  # rows a data gate let through below its tolerance
SOP_OPS_TABLES = (RESULTS, REFRESH_LOG, MART_STATE, QUARANTINE)

ALERTS = "ops.alerts"  # pipelines/alerts.py
# In the serving snapshot only (pipelines/serving.py)
EXPORT_FRESHNESS = "ops.export_freshness"
PUBLISH_INFO = "ops.publish_info"
PUBLISHED_TABLES = "ops.published_tables"
