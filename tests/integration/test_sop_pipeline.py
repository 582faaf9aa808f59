"""The gates inside a real Dagster run (in-process, temp warehouse): a failing data gate stops the
KPI models downstream of its asset in that run while every other domain is built; process gates
report WARN and only lower compliance; results land in ops.sop_check_results and
marts.fct_sop_compliance_daily; the SOP site is written.
"""
from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import pytest

from pipelines.sop.registry import load_registry
from pipelines.warehouse import connect
from tests.conftest import _demo_env

END = dt.date(2026, 3, 31)
DAYS, SCALE, SEED = 42, 0.4, 7  # as tests/integration/test_sop_gates.py: every gate passes on this clean data
FAULTS = ["counts_contradict", "late_first_responses"]  # SOP-MF-02 data gate, SOP-CS-01 process gate
REGISTRY = load_registry()


@pytest.fixture(scope="module")
def gated_run(tmp_path_factory):
    from pipelines.exports.demo import generate_demo_exports
    from pipelines.settings import Settings

    root = tmp_path_factory.mktemp("sop_gated_run")
    with pytest.MonkeyPatch.context() as mp:
        for k, v in _demo_env(root).items():
            mp.setenv(k, v)
        mp.delenv("DAGSTER_HOME", raising=False)
        generate_demo_exports(root / "landing", days=DAYS, scale=SCALE, seed=SEED, end_date=END, progress=None, faults=FAULTS)
        from pipelines.definitions import defs

        job = defs.resolve_job_def("refresh_all")
        # As `kpi run` does: the newest day's partition (a first build: every day is built).
        result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
                                        partition_key=job.partitions_def.get_last_partition_key())
        yield Settings.from_env(), result, defs


def _dbt_graph(defs):
    from pipelines.sop.gating import DbtGraph
    from pipelines.transform import dbt_project

    manifest = json.loads(dbt_project.manifest_path.read_text())
    return manifest, DbtGraph(manifest)


def test_a_failing_data_gate_stops_its_domain_and_the_other_domains_complete(gated_run):
    settings, result, defs = gated_run
    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    assert [e.step_key for e in failures] == ["dbt_models"]
    error = failures[0].event_specific_data.error
    assert error.cls_name == "DagsterAssetCheckFailedError", error.to_string()
    assert "staging/stg_mes__production_runs: sop_mf_02__run_counts" in error.message

    manifest, graph = _dbt_graph(defs)
    production_runs = next(uid for uid, n in manifest["nodes"].items() if n["name"] == "stg_mes__production_runs")
    # the SOP gate views are the gates' own inputs: built before the gates judge (phase A)
    blocked = {graph.node(u)["name"] for u in graph.descendants([production_runs]) if not graph.is_gate_view(u)}
    assert {"int_manufacturing__runs", "fct_manufacturing_daily", "fct_kpi_daily"} <= blocked

    materialized = {e.asset_key for e in result.all_events if e.is_step_materialization}
    built = {k.path[-1] for k in materialized}
    models = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert built & blocked == set(), f"built downstream of the failed gate: {built & blocked}"
    assert models - blocked <= built, f"not built although not downstream of a failed gate: {models - blocked - built}"
    for mart in ("fct_customer_service_daily", "fct_storefront_daily", "fct_marketing_daily", "fct_logistics_daily",
                 "fct_sop_compliance_daily"):
        assert mart in built
    # publish needs every mart: it did not run
    assert not any(k.path[0] == "serving" for k in materialized)

    with connect(settings.warehouse_path, read_only=True) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'").fetchall()}
        assert "fct_manufacturing_daily" not in tables and "fct_customer_service_daily" in tables
        log = con.execute("SELECT models_blocked, blocked_by FROM ops.sop_refresh_log").fetchall()
    assert log[0][0] >= len(blocked) and "sop_mf_02__run_counts" in log[0][1]


def test_gate_checks_report_severity_and_the_offending_rows(gated_run):
    _, result, _ = gated_run
    evaluations = {(e.asset_key.to_user_string(), e.check_name): e for e in
                   (ev.event_specific_data for ev in result.all_events if ev.event_type_value == "ASSET_CHECK_EVALUATION")}
    data_gate = evaluations[("staging/stg_mes__production_runs", "sop_mf_02__run_counts")]
    assert not data_gate.passed and data_gate.severity == dg.AssetCheckSeverity.ERROR and data_gate.blocking
    md = data_gate.metadata
    assert md["sop_id"].value == "SOP-MF-02" and md["unexpected_rows"].value >= 1 and md["rows_evaluated"].value > 0
    sample = md["good_plus_scrap_not_above_total/unexpected_rows_sample"].value
    assert sample and sample[0]["run_id"].startswith("RUN-")
    rows = {r.data["expectation"]: r.data for r in md["expectations"].value.records}
    assert rows["good_plus_scrap_not_above_total"]["passed"] is False and rows["good_plus_scrap_not_above_total"]["unexpected"] == 1
    assert rows["total_count_not_negative"]["passed"] is True

    process_gate = evaluations[("sop/sop_cs_01__ticket_handling", "sop_cs_01__first_response")]
    assert not process_gate.passed and process_gate.severity == dg.AssetCheckSeverity.WARN and not process_gate.blocking
    assert process_gate.metadata["email_first_response_within_sla/unexpected_percent"].value > 5

    intake = evaluations[("raw/tickets", "sop_data_01__export_intake")]
    assert intake.passed and intake.blocking
    # process gates that read what the failed data gate holds back are not evaluated in the run
    assert ("sop/sop_mf_02__runs", "sop_mf_02__qc_inspections") not in evaluations


def test_compliance_drops_only_for_the_broken_sops(gated_run):
    settings, _, _ = gated_run
    with connect(settings.warehouse_path, read_only=True) as con:
        rates = dict(con.execute("SELECT sop_id, sop_compliance_rate FROM marts.fct_sop_compliance_daily").fetchall())
        stored = con.execute("SELECT count(DISTINCT suite || asset), count(*) FILTER (WHERE NOT success) FROM ops.sop_check_results").fetchone()
    assert set(rates) == {s.id for s in REGISTRY.sops}
    assert rates["SOP-MF-02"] < 1 and rates["SOP-CS-01"] < 1
    assert {sop: r for sop, r in rates.items() if sop not in ("SOP-MF-02", "SOP-CS-01") and r != 1} == {}
    assert stored[0] >= 40 and stored[1] >= 2


def test_the_sop_site_has_a_page_per_sop_with_its_flowchart_and_compliance(gated_run):
    settings, _, _ = gated_run
    site = settings.sop_docs_dir
    assert (site / "index.html").exists() and (site / "gx" / "index.html").exists()
    for sop in REGISTRY.sops:
        page = (site / "sops" / f"{sop.id}.html").read_text()
        assert "<svg" in page and all(step.name in page for step in sop.steps)
        assert "compliance" in page and sop.owner.email in page
    index = (site / "index.html").read_text()
    assert "sop_cs_01__first_response" in index and "sop_mf_02__run_counts" in index  # the failing gates, named
