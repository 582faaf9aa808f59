"""A part of the graph materialized on an empty warehouse, as a user selects it in the UI:
one mart and everything upstream of it builds, and nothing outside the selection is loaded."""
from __future__ import annotations

import datetime as dt

import dagster as dg

from pipelines.warehouse import connect, tables


def test_one_mart_and_its_upstream_on_an_empty_warehouse(settings, monkeypatch, tmp_path):
    from pipelines.definitions import defs
    from pipelines.exports.demo import generate_demo_exports

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("KPI_SOP_DOCS_DIR", str(tmp_path / "sop_docs"))
    generate_demo_exports(settings.landing_dir, days=7, scale=0.05, seed=3,
                          end_date=dt.date.today() - dt.timedelta(days=1), progress=None)
    mart = dg.AssetKey(["marts", "fct_customer_service_daily"])
    selection = dg.AssetSelection.assets(mart).upstream().resolve(defs.resolve_asset_graph())
    job = defs.resolve_job_def("refresh_all")

    result = job.execute_in_process(asset_selection=list(selection), raise_on_error=False,
                                    partition_key=job.partitions_def.get_last_partition_key())

    failures = [e.event_specific_data.error.message for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert result.success, failures
    built = {e.asset_key for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"}
    assert mart in built and dg.AssetKey(["raw", "tickets"]) in built
    with connect(settings.warehouse_path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.fct_customer_service_daily").fetchone()[0] > 0
        loaded = {r[0] for r in con.execute("SELECT DISTINCT export FROM raw._load_log").fetchall()}
        assert "marts.fct_storefront_daily" not in tables(con), "a mart outside the selection was built"
    assert loaded == {"tickets", "ticket_interactions", "csat_responses"}, "only the selection's exports are loaded"
