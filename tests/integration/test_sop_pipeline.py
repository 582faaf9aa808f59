"""The gates inside real Dagster runs (`kpi run`'s run_job, temp warehouse and instance): the session's demo
world (a first refresh on clean data, tests/conftest.py), then on a copy of it one on the same exports where a
data gate fails above its tolerance (SOP-MF-02: manufacturing; one contradicting run among the few of the
redelivered day's file, above the suite's `mostly` 0.99).
Below a tolerance rows are quarantined instead: tests/integration/test_quarantine.py.
One domain's bad data holds back that domain only: its marts keep the first run's rows, the long KPI table
and the published snapshot carry every other domain's fresh KPIs and the held domain's last good rows marked
stale; the dashboard and the console say so. Process gates report WARN and only lower compliance; results
land in ops.sop_check_results and marts.fct_sop_compliance_daily; the SOP site is written.
"""
from __future__ import annotations

from types import SimpleNamespace

import dagster as dg
import pytest

from pipelines.sop.registry import load_registry
from pipelines.warehouse import connect
from tests.conftest import DEMO_EXPORTS, copy_of

FAULTS = ["counts_contradict", "late_first_responses"]  # SOP-MF-02 data gate, SOP-CS-01 process gate
REGISTRY = load_registry()
KPI_ROWS = ("SELECT kpi_id, domain, kpi_date, segment_type, segment, numerator, denominator, is_stale, stale_gate, "
            "last_good_built_at FROM marts.fct_kpi_daily")


def _kpi_rows(path) -> dict[tuple, tuple]:
    with connect(path, read_only=True) as con:
        return {r[0:1] + r[2:5]: r for r in con.execute(KPI_ROWS).fetchall()}


@pytest.fixture(scope="module")
def gated_run(demo_world, tmp_path_factory):
    from pipelines.exports.demo import generate_demo_exports
    from pipelines.runner import run_job

    root = tmp_path_factory.mktemp("sop_gated_run")
    with pytest.MonkeyPatch.context() as mp:
        settings = copy_of(demo_world.settings, root, mp)
        mp.setenv("DAGSTER_HOME", str(root / "dagster_home"))  # the second run's events, read back below
        before = _kpi_rows(settings.warehouse_path)
        with connect(settings.warehouse_path, read_only=True) as con:
            [(first_run_id,)] = con.execute("SELECT DISTINCT built_run_id FROM ops.kpi_mart_state").fetchall()
        assert any(line.startswith(f"run {first_run_id[:8]} succeeded") for line in demo_world.run_lines), \
            "the marts were built by the demo world's (clean) first run"
        # The same exports delivered again, two of them with SOP breaches (files rewritten: reloaded).
        generate_demo_exports(settings.landing_dir, **DEMO_EXPORTS, progress=None, faults=FAULTS)
        lines: list[str] = []
        ok = run_job("refresh_all", print_fn=lines.append)
        from pipelines.definitions import defs

        instance = dg.DagsterInstance.get()
        runs = instance.get_runs()  # newest first
        [refresh] = [r for r in runs if r.job_name == "refresh_all"]
        events = [e.dagster_event for e in instance.all_logs(refresh.run_id) if e.dagster_event is not None]
        yield settings, SimpleNamespace(success=ok, all_events=events, lines=lines, before=before, runs=runs,
                                        run_id=refresh.run_id, first_run_id=first_run_id), defs
        instance.dispose()


def test_a_failing_data_gate_holds_back_its_domain_and_the_other_domains_complete(gated_run):
    settings, result, defs = gated_run
    from pipelines.transform import dbt_steps

    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    assert [e.step_key for e in failures] == ["data_gates__manufacturing"]
    error = failures[0].event_specific_data.error
    assert error.cls_name == "DagsterAssetCheckFailedError", error.to_string()
    assert "staging/stg_mes__production_runs: sop_mf_02__run_counts" in error.message
    # Dagster skipped the held domain's step and the cross-domain core, nothing else
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert not {"dbt_manufacturing", "dbt_core"} & started
    assert {"dbt_storefront", "dbt_customer_service", "dbt_marketing", "dbt_logistics", "dbt_staging"} <= started
    assert "  ! dbt_manufacturing not run: its upstream step(s) data_gates__manufacturing failed" in result.lines

    step_models = {s.op.name: {k.path[-1] for k in s.keys} for s in dbt_steps}
    held = step_models["dbt_manufacturing"]
    assert {"int_manufacturing__runs", "fct_manufacturing_daily", "dim_production_lines"} <= held
    materialized = {e.asset_key for e in result.all_events if e.is_step_materialization}
    built = {k.path[-1] for k in materialized}
    assert built & held == set(), f"built although held back by the failed gate: {built & held}"
    for step in ("dbt_staging", "dbt_storefront", "dbt_customer_service", "dbt_marketing", "dbt_logistics"):
        assert step_models[step] <= built, f"{step} not built although not held back: {step_models[step] - built}"
    # the core and publish run in a run of their own, launched by `kpi run`, from the held mart's last good rows
    assert not any(k.path[0] == "serving" for k in materialized) and "fct_kpi_daily" not in built
    publish = result.runs[0]
    assert publish.job_name == "publish_kpis" and publish.is_success and publish.tags["kpi/after_run"] == result.run_id
    instance = dg.DagsterInstance.get()
    published = {e.dagster_event.asset_key.path[-1] for e in instance.all_logs(publish.run_id)
                 if e.dagster_event is not None and e.dagster_event.is_step_materialization}
    assert {"fct_kpi_daily", "fct_sop_compliance_daily", "kpi_warehouse"} <= published and not published & held

    with connect(settings.warehouse_path, read_only=True) as con:
        log = con.execute("SELECT models_blocked, blocked_by FROM ops.sop_refresh_log WHERE run_id = ?",
                          [result.run_id]).fetchall()
        state = dict(con.execute("SELECT mart, held_by FROM ops.kpi_mart_state").fetchall())
        reason = con.execute("SELECT held_reason FROM ops.kpi_mart_state WHERE mart = 'fct_manufacturing_daily'").fetchone()[0]
        quarantined = con.execute("SELECT count(*) FROM ops.sop_quarantine WHERE suite = 'sop_mf_02__run_counts'").fetchone()[0]
    # the publish run completes the refresh's row of the log: the held step's models were not built
    assert log[0][0] == len(held) and "sop_mf_02__run_counts" in log[0][1]
    # above the tolerance: held back, nothing quarantined; the reason gives the share and the tolerance
    assert "good_plus_scrap_not_above_total 1 of " in reason and "tolerance 1 % (mostly 0.99)" in reason, reason
    assert quarantined == 0
    assert state == {m: ("sop_mf_02__run_counts" if m == "fct_manufacturing_daily" else None) for m in state}
    assert len(state) == 7


@pytest.mark.parametrize("where", ["warehouse", "serving"])
def test_the_long_kpi_table_has_fresh_domains_and_the_held_domains_last_good_rows(gated_run, where):
    settings, result, _ = gated_run
    after = _kpi_rows(settings.warehouse_path if where == "warehouse" else settings.serving_path)
    before = result.before
    mf = {k for k in after if after[k][1] == "manufacturing"}
    assert mf and mf == {k for k in before if before[k][1] == "manufacturing"}
    with connect(settings.warehouse_path, read_only=True) as con:
        built_at, built_by = con.execute("SELECT built_at, built_run_id FROM ops.kpi_mart_state "
                                         "WHERE mart = 'fct_manufacturing_daily'").fetchone()
    assert built_by == result.first_run_id
    for k in mf:  # the first run's rows, marked stale with the gate, built by the first run
        assert after[k][5:7] == before[k][5:7], k
        assert after[k][7] is True and after[k][8] == "sop_mf_02__run_counts" and after[k][9] == built_at
    assert all(before[k][7] is False and before[k][9] is None for k in before)  # the first run: all fresh
    fresh = [k for k in after if after[k][1] != "manufacturing"]
    assert fresh and all(after[k][7] is False and after[k][8] is None and after[k][9] is None for k in fresh)
    # the late e-mail replies of the second delivery are in the other domains' KPIs
    first_response = [k for k in fresh if k[0] == "cs_first_response_minutes" and k[2] == "all"]
    assert any(after[k][5:7] != before[k][5:7] for k in first_response)


def test_the_dashboard_and_the_console_say_which_domain_is_stale(gated_run):
    from pipelines.report import print_kpi_summary
    from pipelines.sop.summary import print_sop_summary

    settings, result, _ = gated_run
    held = [line for line in result.lines if "held back: fct_manufacturing_daily" in line]
    assert held and "sop_mf_02__run_counts" in held[0], result.lines
    assert any(line.strip().startswith("published: the other domains' fresh KPIs") for line in result.lines)
    page = settings.dashboard_path.read_text()
    assert '<p class="stale" data-held-by="sop_mf_02__run_counts">' in page
    assert page.index('id="manufacturing"') < page.index('class="stale"') < page.index('id="marketing"')
    summary: list[str] = []
    print_kpi_summary(settings.warehouse_path, print_fn=summary.append)
    stale = [line for line in summary if "STALE" in line]
    assert len(stale) == 1 and "fct_manufacturing_daily" in stale[0] and "sop_mf_02__run_counts" in stale[0]
    sop: list[str] = []
    print_sop_summary(settings.warehouse_path, print_fn=sop.append, reg=REGISTRY)
    assert any("HELD BACK fct_manufacturing_daily" in line and "every other domain is fresh" in line for line in sop)


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
    assert "above its tolerance 1 % (mostly 0.99)" in md["summary"].value, md["summary"].value

    process_gate = evaluations[("sop/sop_cs_01__ticket_handling", "sop_cs_01__first_response")]
    assert not process_gate.passed and process_gate.severity == dg.AssetCheckSeverity.WARN and not process_gate.blocking
    assert process_gate.metadata["email_first_response_within_sla/unexpected_percent"].value > 5

    # an export's intake gate sits on its staging model (on raw/* it would hold back every domain)
    intake = evaluations[("staging/stg_helpdesk__tickets", "sop_data_01__export_intake")]
    assert intake.passed and intake.blocking
    # process gates that read what the failed data gate refused are not evaluated in the run (Dagster skips them)
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
