"""What a failure holds back in the dbt graph (pipelines/sop/gating.py DbtGraph.held), on the project's
own manifest: its domain's models, never the long KPI table that reads their last good tables, unless
the failure is on a model that table reads directly (its rows are the bad ones)."""
from __future__ import annotations

import json

import pytest

from pipelines.sop.gating import DbtGraph
from pipelines.transform import ensure_manifest


@pytest.fixture(scope="module")
def graph() -> DbtGraph:
    return DbtGraph(json.loads(ensure_manifest().read_text()))


def _uid(graph: DbtGraph, name: str) -> str:
    return next(uid for uid, n in graph.manifest["nodes"].items() if n["name"] == name)


def _names(graph: DbtGraph, uids) -> set[str]:
    return {graph.node(u)["name"] for u in uids}


def test_a_failed_gate_on_staging_holds_its_domain_not_the_long_table(graph):
    held = _names(graph, graph.held([_uid(graph, "stg_mes__production_runs")]))
    assert {"int_manufacturing__runs", "fct_manufacturing_daily", "dim_production_lines"} <= held
    assert "fct_kpi_daily" not in held
    assert not held & {"fct_storefront_daily", "fct_customer_service_daily", "fct_logistics_daily", "fct_marketing_daily"}
    # dbt's own descendants include it: the difference is the tag reads_last_good
    assert "fct_kpi_daily" in _names(graph, graph.descendants([_uid(graph, "stg_mes__production_runs")]))
    assert graph.reads_last_good(_uid(graph, "fct_kpi_daily"))


def test_a_failure_on_a_mart_the_long_table_reads_holds_the_long_table(graph):
    # a failed dbt test on the mart judged the rows just built: there is no last good version to read
    assert "fct_kpi_daily" in _names(graph, graph.held([_uid(graph, "fct_manufacturing_daily")]))


def test_only_tables_keep_a_last_good_version(graph):
    assert graph.keeps_last_good(_uid(graph, "fct_manufacturing_daily"))
    assert not graph.keeps_last_good(_uid(graph, "stg_mes__production_runs"))  # a view shows today's rows
