"""The dbt unit tests (model logic on hand-computed fixtures, in the models' yml) all run and pass.

dbt unit tests read the column types of each model's inputs from the warehouse, so the
inputs must exist: raw tables from the contracts, then every model and seed built empty.
"""
from __future__ import annotations

import json

from pipelines.ingest import ensure_raw_tables
from pipelines.warehouse import connect

# The unit tests the KPI definitions rely on; more may exist (other domains), none may be missing.
REQUIRED_UNIT_TESTS = {
    "int_cs_tickets_first_contact_resolution",
    "int_cs_tickets_response_and_resolution_times",
    "int_cs_tickets_business_dates_in_business_timezone",
    "int_cs_tickets_unanswered_past_sla",
    "int_cs_csat_answered_surveys_only",
    "fct_cs_daily_created_date_kpis",
    "fct_cs_daily_solved_date_kpis",
    "fct_cs_daily_csat_and_empty_denominators",
    "int_fx_cross_rates_and_weekend_carry_forward",
    "int_fx_direct_rates_when_base_is_the_quote",
    "int_sf_sessions_incremental_rebuilds_only_the_window_days",
}


def test_every_dbt_unit_test_passes(settings, run_dbt, tmp_path):
    con = connect(settings.warehouse_path)
    try:
        ensure_raw_tables(con)
    finally:
        con.close()
    # Only what the unit tests read: models and seeds, built empty (data tests on empty tables say nothing).
    run_dbt("build", "--empty", "--resource-type", "model", "--resource-type", "seed")

    proc = run_dbt("test", "--select", "test_type:unit", check=False)

    target = tmp_path / "dbt_target"
    defined = {n["name"] for n in json.loads((target / "manifest.json").read_text())["unit_tests"].values()}
    results = json.loads((target / "run_results.json").read_text())["results"]
    ran = {r["unique_id"].rsplit(".", 1)[-1]: r["status"] for r in results if r["unique_id"].startswith("unit_test.")}
    failed = {name: status for name, status in ran.items() if status != "pass"}

    assert not failed, f"dbt unit tests failed: {failed}\n{proc.stdout[-6000:]}"
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert REQUIRED_UNIT_TESTS <= defined, f"unit tests missing from the project: {REQUIRED_UNIT_TESTS - defined}"
    assert set(ran) == defined, "every unit test of the project ran"
    assert len(ran) >= len(REQUIRED_UNIT_TESTS)
