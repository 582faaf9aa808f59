"""The dbt steps split by selector (pipelines/transform.py DBT_STEPS), read from the project's own
Definitions: what a failed data gate holds back is decided by Dagster's graph of steps, so the split
must put every model in one step and each domain's models in a step of their own."""
from __future__ import annotations

import dagster as dg
import pytest

from pipelines.transform import CORE_STEP, DBT_STEPS, DOMAINS, dbt_manifest, dbt_steps

OTHER_DOMAINS = {f"dbt_{d}" for d in DOMAINS}


@pytest.fixture(scope="module")
def defs():
    from pipelines.definitions import defs

    return defs


def _step_of() -> dict[str, str]:
    return {key.path[-1]: step.op.name for step in dbt_steps for key in step.keys}


def test_every_model_and_seed_is_built_by_exactly_one_step():
    built = [key.path[-1] for step in dbt_steps for key in step.keys]
    nodes = {n["name"] for n in dbt_manifest()["nodes"].values() if n["resource_type"] in ("model", "seed")}
    assert sorted(built) == sorted(nodes)
    assert [step.op.name for step in dbt_steps] == list(DBT_STEPS)


def test_each_domain_step_builds_its_intermediate_models_its_marts_and_their_dimensions():
    step = _step_of()
    assert {step[m] for m in ("int_manufacturing__runs", "fct_manufacturing_daily", "dim_production_lines")} == {"dbt_manufacturing"}
    assert {step[m] for m in ("int_storefront__orders", "fct_storefront_daily", "dim_customers", "dim_products")} == {"dbt_storefront"}
    assert {step[m] for m in ("fct_kpi_daily", "dim_kpi", "kpi_targets", "fct_sop_compliance_daily")} == {CORE_STEP}
    assert {step[m] for m in ("stg_mes__production_runs", "sop_mf_01__runs", "int_finance__fx_rates_to_base")} == {"dbt_staging"}


def _steps_downstream(defs, key: str) -> set[str]:
    graph = defs.resolve_asset_graph()
    keys = dg.AssetSelection.assets(dg.AssetKey(key.split("/"))).downstream().resolve(graph)
    step = {k: s.op.name for s in dbt_steps for k in s.keys}
    return {step[k] for k in keys if k in step}


def test_a_failed_gate_on_a_staging_model_holds_back_its_domain_and_the_core_only(defs):
    assert _steps_downstream(defs, "staging/stg_mes__production_runs") == {"dbt_staging", "dbt_manufacturing", CORE_STEP}
    assert _steps_downstream(defs, "staging/stg_helpdesk__tickets") == {"dbt_staging", "dbt_customer_service", CORE_STEP}
    # the shipments feed logistics only; the orders feed the storefront and the domains that read its orders
    assert _steps_downstream(defs, "staging/stg_logistics__shipments") & OTHER_DOMAINS == {"dbt_logistics"}
    assert "dbt_customer_service" not in _steps_downstream(defs, "staging/stg_storefront__orders")


def test_gates_share_a_step_only_when_its_failure_holds_back_the_same_domains(defs):
    """A failed data gate fails its step: Dagster then skips what is downstream of every check of that
    step. So a step's data gates must guard the same domain steps (read off Dagster's asset graph
    here), and two steps never guard the same ones (one step would do)."""
    from pipelines.sop.refresh import gate_checks

    guarded: dict[str, set[frozenset[str]]] = {}
    for checks in gate_checks():
        name = checks.node_def.name
        specs = list(checks.check_specs)
        blocking = {spec.blocking for spec in specs}
        assert len(blocking) == 1, f"{name} mixes data gates and process gates"
        if blocking == {True}:
            assert name.startswith("data_gates__"), name
            guarded[name] = {frozenset(_steps_downstream(defs, spec.asset_key.to_user_string()) & OTHER_DOMAINS)
                             for spec in specs}
            assert len(guarded[name]) == 1, (name, guarded[name])
            (domains,) = guarded[name]
            assert name == "data_gates__" + ("__".join(sorted(d.removeprefix("dbt_") for d in domains)) or "sop_views_only")
        else:
            assert name.startswith("process_gates__"), name
    sets = [next(iter(g)) for g in guarded.values()]
    assert len(sets) == len(set(sets)), guarded
    assert guarded["data_gates__manufacturing"] == {frozenset({"dbt_manufacturing"})}
    job = defs.resolve_job_def("refresh_all")
    assert {"data_gates__manufacturing", "dbt_manufacturing", "process_gates__sop_mf_01"} <= set(job.graph.node_dict)


def test_a_process_gate_waits_for_the_data_gates_of_what_its_view_reads(defs):
    """Dagster skips a process gate whose input a data gate refused: its step depends on that data gate's step."""
    job = defs.resolve_job_def("refresh_all")
    names = {o.node.name for o in job.graph.dependency_structure.all_upstream_outputs_from_node("process_gates__sop_mf_01")}
    assert "data_gates__manufacturing" in names and "dbt_staging" in names, names
    assert not {n for n in names if n.startswith("data_gates__")} - {"data_gates__manufacturing"}, names


def test_a_test_reading_two_steps_models_runs_where_both_are_built():
    # a relationships test from a mart to its dimension is a check of the domain step, which builds both
    step = next(s for s in dbt_steps if s.op.name == "dbt_manufacturing")
    assert any("relationships_fct_manufacturing_daily_line_id" in k.name for k in step.check_keys)


def test_publish_builds_the_core_from_the_warehouse_as_it_is(defs):
    job = defs.resolve_job_def("publish_kpis")
    assert CORE_STEP in job.graph.node_dict and "serving__kpi_warehouse" in job.graph.node_dict
    assert not OTHER_DOMAINS & set(job.graph.node_dict) and "dbt_staging" not in job.graph.node_dict


def test_every_dbt_test_check_can_run_in_the_step_of_its_asset():
    """dbt runs a test in a step only when every node it reads is built there (DBT_INDIRECT_SELECTION
    cautious). A test whose inputs span two steps would never run: Dagster reports its check as
    "emitted no result" and proceeds without it, a gate not evaluated. So each test's inputs share the
    step of the asset Dagster attaches its check to."""
    step = _step_of()
    checks = {ck.name: s.op.name for s in dbt_steps for ck in s.check_keys}
    nodes = dbt_manifest()["nodes"]
    split = {}
    for test in (n for n in nodes.values() if n["resource_type"] == "test"):
        inputs = {step[nodes[p]["name"]] for p in test["depends_on"]["nodes"]
                  if p in nodes and nodes[p]["resource_type"] in ("model", "seed")}
        if test["name"] in checks and inputs != {checks[test["name"]]}:
            split[test["name"]] = (checks[test["name"]], sorted(inputs))
    assert split == {}
    assert len(checks) > 200  # the dbt tests are checks (not left out of the comparison above)
