"""Every gate of every SOP passes on clean demo data and fails, naming the offending rows, on data
that breaks it (the faults of `kpi demo-data --faults`, docs/faults.md); a data gate whose fault
stays below its tolerance (GX `mostly`) passes and names the rows it quarantines instead.

Two small worlds are built once per module, the real way: demo exports → the loader → raw.*
→ dbt (staging and the SOP gate views) → the GX runner on DuckDB over a read-only connection.
Without the Dagster step around them, every gate is evaluated, also those a failing data gate
would keep from running in a pipeline run (tests/integration/test_sop_pipeline.py covers that).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.exports import EXPORTS
from pipelines.exports.demo_faults import FAULTS
from pipelines.settings import DBT_PROJECT_DIR
from pipelines.sop.registry import load_registry

END = dt.date(2026, 3, 31)
DAYS, SCALE, SEED = 42, 0.4, 7
REGISTRY = load_registry()
DBT = str(Path(sys.executable).with_name("dbt"))
# The refresh-interval gate of SOP-MK-02 judges the pipeline's own refreshes (ops.sop_refresh_log),
# not an export: its "fault" is two refreshes logged 30 h apart (26 h allowed).
REFRESH_GATE = "sop_mk_02__mart_refresh"


def _build_world(root: Path, faults, refresh_gap_hours: float):
    from pipelines.exports.demo import generate_demo_exports
    from pipelines.ingest import load_export
    from pipelines.sop.gate_runner import GateRunner
    from pipelines.warehouse import connect

    landing, warehouse = root / "landing", root / "warehouse" / "kpi.duckdb"
    generate_demo_exports(landing, days=DAYS, scale=SCALE, seed=SEED, end_date=END, progress=None, faults=faults)
    with connect(warehouse) as con:
        for e in EXPORTS:
            load_export(con, e, landing)
    env = {**os.environ, "KPI_WAREHOUSE_PATH": str(warehouse), "KPI_BUSINESS_TIMEZONE": "UTC", "KPI_BASE_CURRENCY": "USD",
           "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR)}
    proc = subprocess.run(
        [DBT, "build", "--resource-type", "seed", "--resource-type", "model",  # staging reads seeds (ticket_event_types)
         "--select", "path:seeds", "path:models/staging", "path:models/sop_gates", "--project-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(root / "dbt_target"), "--log-path", str(root / "dbt_logs")],
        env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:]
    t0 = dt.datetime(2026, 4, 1, 6, 0)
    with connect(warehouse) as con:  # two refreshes that built the marts, the given hours apart
        con.execute("INSERT INTO ops.sop_refresh_log (run_id, started_at, finished_at, marts_built) VALUES "
                    "('r1', ?, ?, 5), ('r2', ?, ?, 5)",
                    [t0, t0, t0 + dt.timedelta(hours=refresh_gap_hours), t0 + dt.timedelta(hours=refresh_gap_hours)])
    runner = GateRunner(warehouse)
    try:
        outcomes = {(o.target.gate.suite, o.target.asset): o for o in runner.evaluate(REGISTRY.targets())}
    finally:
        runner.close()
    return warehouse, outcomes


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return _build_world(tmp_path_factory.mktemp("sop_clean"), None, refresh_gap_hours=24)


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    return _build_world(tmp_path_factory.mktemp("sop_broken"), "all", refresh_gap_hours=30)


def _describe(outcome) -> str:
    return "\n".join(f"  {e.expectation}: success={e.success} unexpected={e.unexpected}/{e.rows_evaluated} "
                     f"error={e.error} sample={e.unexpected_keys[:2]}" for e in outcome.expectations)


def _asset_of(fault) -> str:
    gate = next(g for g in REGISTRY.sop(fault.sop_id).gates if g.suite == fault.suite)
    if gate.per_export:
        return gate.asset.replace("{export}", fault.export.split("/")[1])
    return gate.asset


@pytest.mark.parametrize("sop_id", [s.id for s in REGISTRY.sops])
def test_every_gate_passes_on_clean_data(clean, sop_id):
    _, outcomes = clean
    mine = {k: o for k, o in outcomes.items() if o.target.gate.sop_id == sop_id}
    assert {g.suite for g in REGISTRY.sop(sop_id).gates} == {suite for suite, _ in mine}
    for (suite, asset), o in mine.items():
        assert o.error is None and o.passed, f"{suite} on {asset} failed on clean data:\n{_describe(o)}"
        assert o.rows_in_window > 0, f"{suite} on {asset} looked at no rows: the gate checks nothing"
        for e in o.expectations:
            assert e.error is None and e.rows_evaluated is not None, f"{suite}.{e.expectation} did not run: {e.error}"


@pytest.mark.parametrize("sop_id", [s.id for s in REGISTRY.sops])
def test_every_gate_fails_on_data_that_breaks_it_and_names_the_rows(broken, sop_id):
    _, outcomes = broken
    faults = [f for f in FAULTS if f.sop_id == sop_id]
    broken_suites = {f.suite for f in faults} | ({REFRESH_GATE} if sop_id == "SOP-MK-02" else set())
    assert {g.suite for g in REGISTRY.sop(sop_id).gates} <= broken_suites, "a gate of this SOP has no fault that breaks it"
    for f in faults:
        asset = _asset_of(f)
        o = outcomes[(f.suite, asset)]
        failed = {e.expectation: e for e in o.failed}
        quarantined = {e.expectation: e for e in o.quarantined}  # a data gate's rows below its tolerance
        assert (not o.passed and f.expectation in failed) or f.expectation in quarantined, (
            f"fault {f.name} did not fail {f.suite}.{f.expectation} on {asset}:\n{_describe(o)}")
        e = failed.get(f.expectation) or quarantined[f.expectation]
        assert f.expectation in failed or len(e.quarantined_index) == e.unexpected
        assert e.error is None and e.unexpected and e.unexpected > 0
        keys = [k for k in o.target.keys if any(row.get(k) is not None for row in e.unexpected_keys)]
        assert keys, f"{f.suite}.{f.expectation}: the offending rows are not named: {e.unexpected_keys}"
    if sop_id == "SOP-MK-02":
        o = outcomes[(REFRESH_GATE, "sop/sop_mk_02__mart_refreshes")]
        assert not o.passed and o.failed[0].unexpected_keys[0]["run_id"] == "r2"


def test_a_data_gate_reports_the_keys_of_the_broken_rows(broken):
    """The report names the export's rows: the duplicated order's file and lines, the unknown campaign."""
    _, outcomes = broken
    orders = outcomes[("sop_data_01__export_intake", "raw/orders")]
    quarantined = next(e for e in orders.failed if e.expectation == "no_rows_quarantined")
    assert quarantined.unexpected == 2  # both versions of the order id: the loader kept neither
    assert all(row["_source_file"].startswith("storefront/orders/orders_2026-03-") for row in quarantined.unexpected_keys)
    assert all(row["_line"] for row in quarantined.unexpected_keys)
    spend = outcomes[("sop_mk_01__spend_campaigns", "staging/stg_ads__ad_spend_daily")]
    assert [row["campaign_id"] for row in spend.quarantined[0].unexpected_keys] == ["CMP-9999"]  # below the tolerance


def test_thresholds_live_in_the_suites(broken, tmp_path, monkeypatch):
    """Raising the e-mail SLA in the suite JSON (no code) turns the late replies into compliant ones."""
    from pipelines.sop import registry as registry_module
    from pipelines.sop.gate_runner import GateRunner

    warehouse, outcomes = broken
    shutil.copytree(registry_module.EXPECTATIONS_DIR, tmp_path / "expectations")
    suite_file = tmp_path / "expectations" / "sop_cs_01__first_response.json"
    suite = json.loads(suite_file.read_text())
    email = next(e for e in suite["expectations"] if e["meta"]["id"] == "email_first_response_within_sla")
    email["kwargs"]["max_value"] = 48 * 60
    suite_file.write_text(json.dumps(suite))
    monkeypatch.setattr(registry_module, "EXPECTATIONS_DIR", tmp_path / "expectations")
    target = outcomes[("sop_cs_01__first_response", "sop/sop_cs_01__ticket_handling")].target
    runner = GateRunner(warehouse)
    try:
        relaxed = runner.evaluate_one(target)
    finally:
        runner.close()
    before = {e.expectation: e.success for e in outcomes[("sop_cs_01__first_response", target.asset)].expectations}
    after = {e.expectation: e.success for e in relaxed.expectations}
    assert before["email_first_response_within_sla"] is False and after["email_first_response_within_sla"] is True


def test_regular_expressions_take_the_pandas_path_and_still_name_rows(clean, broken):
    """Tracking-number formats are regexes (GX cannot run them as SQL on DuckDB): evaluated on a frame."""
    for world in (clean, broken):
        o = world[1][("sop_lg_01__carrier_tracking", "sop/sop_lg_01__shipments")]
        regex = [e for e in o.expectations if e.expectation_type == "expect_column_values_to_match_regex"]
        assert len(regex) == 4 and all(e.success and e.error is None and e.rows_evaluated > 0 for e in regex)


def test_a_refresh_checks_only_the_rows_it_loaded_and_a_failed_data_gate_keeps_its_rows(broken, tmp_path):
    """Watermarks: after results are written, a process gate moves past the rows it judged; a data gate
    that failed judges the same rows again next time (and keeps blocking) until they are replaced."""
    from pipelines.sop.results import record_evaluation, watermarks
    from pipelines.sop.gate_runner import GateRunner

    warehouse = tmp_path / "kpi.duckdb"
    shutil.copy(broken[0], warehouse)
    outcomes = broken[1]
    picked = [outcomes[("sop_cs_01__first_response", "sop/sop_cs_01__ticket_handling")],
              outcomes[("sop_data_01__export_intake", "raw/orders")],
              outcomes[("sop_data_01__export_intake", "raw/tickets")]]
    record_evaluation(warehouse, "run-1", picked, dt.datetime(2026, 4, 1, 6), held={})  # what a gate step writes
    marks = watermarks(warehouse)
    assert ("sop_cs_01__first_response", "sop/sop_cs_01__ticket_handling") in marks  # process: judged, move on
    assert ("sop_data_01__export_intake", "raw/tickets") in marks  # data gate passed: move on
    assert ("sop_data_01__export_intake", "raw/orders") not in marks  # data gate failed: judge again
    runner = GateRunner(warehouse)
    try:
        again = [runner.evaluate_one(o.target, marks.get((o.target.gate.suite, o.target.asset))) for o in picked]
    finally:
        runner.close()
    assert again[0].rows_in_window == 0 and again[2].rows_in_window == 0
    assert not again[1].passed and again[1].rows_in_window == picked[1].rows_in_window
