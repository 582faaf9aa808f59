"""Pure parts of `kpi bench` and the DuckDB memory-limit setting."""
import pytest

from pipelines.bench import _model_order, _stages
from pipelines.settings import Settings


def _node(uid, deps, materialized="table"):
    return {"resource_type": "model", "config": {"materialized": materialized}, "depends_on": {"nodes": deps},
            "unique_id": uid}


def test_models_run_parents_first_and_ephemeral_models_are_inlined():
    nodes = {"model.p.c": _node("model.p.c", ["model.p.b", "model.p.a"]), "model.p.a": _node("model.p.a", ["source.p.x"]),
             "model.p.b": _node("model.p.b", ["model.p.a", "model.p.e"]),
             "model.p.e": _node("model.p.e", [], "ephemeral"), "test.p.t": {"resource_type": "test"}}
    order = [n["unique_id"] for n in _model_order({"nodes": nodes})]
    assert order == ["model.p.a", "model.p.b", "model.p.c"]


def test_stages_count_the_dbt_steps_and_the_gate_steps_apart():
    timings = {"steps": {"raw__orders": 2.0, "dbt_staging": 3.0, "data_gates__logistics__marketing__storefront": 0.5,
                         "process_gates__sop_lg_01": 1.5, "dbt_storefront": 4.0, "dbt_core": 2.5,
                         "serving__kpi_warehouse": 1.0},
               "run_seconds": 15.0, "since_process_start": 18.0, "launch_seconds": 1.5, "event_counts": {"X": 7}}
    s = _stages(timings, wall=20.0)
    assert (s["ingest"], s["dbt"], s["gates"], s["publish"]) == (2.0, 9.5, 2.0, 1.0)
    assert s["overhead"] == 5.5 and s["startup"] == 3.0 and s["events"] == 7


def test_duckdb_memory_limit_is_checked(monkeypatch):
    monkeypatch.setenv("KPI_DUCKDB_MEMORY_LIMIT", "3GB")
    assert Settings.from_env().duckdb_memory_limit == "3GB"
    assert Settings.from_env().dbt_env()["KPI_DUCKDB_MEMORY_LIMIT"] == "3GB"
    monkeypatch.setenv("KPI_DUCKDB_MEMORY_LIMIT", "3GB'; DROP TABLE x; --")
    with pytest.raises(ValueError, match="KPI_DUCKDB_MEMORY_LIMIT"):
        Settings.from_env()
