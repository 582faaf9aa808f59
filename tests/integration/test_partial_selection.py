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


def test_a_model_that_fails_fails_the_step_and_names_the_model(settings, monkeypatch, tmp_path):
    """dbt's errors reach the step's failure through dagster-dbt (dbt runs with --no-write-json): a
    staging view over an export never loaded fails, the step fails and its message names the model."""
    from pipelines.definitions import defs

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("KPI_SOP_DOCS_DIR", str(tmp_path / "sop_docs"))
    staging = dg.AssetKey(["staging", "stg_helpdesk__tickets"])
    job = defs.resolve_job_def("refresh_all")

    # Only the dbt model, on an empty warehouse: raw.tickets does not exist.
    result = job.execute_in_process(asset_selection=[staging], raise_on_error=False,
                                    partition_key=job.partitions_def.get_last_partition_key())

    assert not result.success
    # The step's error with its cause: dagster-dbt's, with the errors it parsed from dbt's log
    failures = [e.event_specific_data.error.to_string() for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert len(failures) == 1 and "DagsterDbtCliRuntimeError" in failures[0] and "dbt build" in failures[0], failures
    assert "Runtime Error in model stg_helpdesk__tickets" in failures[0], failures[0]
    assert "raw.tickets" in failures[0].split("Runtime Error in model stg_helpdesk__tickets", 1)[1], "dbt's own message follows"


def test_a_failing_dbt_test_is_a_failed_check_not_a_dbt_error(settings, monkeypatch, tmp_path):
    """dbt exits 1 when a test of severity error fails: that is a failed check on the model (and
    what is downstream is not built), never the step's "dbt build failed"."""
    from pipelines.definitions import defs
    from pipelines.exports.demo import generate_demo_exports

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("KPI_SOP_DOCS_DIR", str(tmp_path / "sop_docs"))
    generate_demo_exports(settings.landing_dir, days=7, scale=0.05, seed=3,
                          end_date=dt.date.today() - dt.timedelta(days=1), progress=None)
    job = defs.resolve_job_def("refresh_all")
    partition = job.partitions_def.get_last_partition_key()
    assert job.execute_in_process(asset_selection=[dg.AssetKey(["raw", "tickets"])], partition_key=partition).success
    with connect(settings.warehouse_path) as con:  # a channel the accepted_values test refuses
        con.execute("UPDATE raw.tickets SET channel = 'pigeon' WHERE ticket_id = (SELECT min(ticket_id) FROM raw.tickets)")

    staging = dg.AssetKey(["staging", "stg_helpdesk__tickets"])
    # with the seeds it maps the business's words through (a model whose upstream was never built fails)
    seeds = [k for k in defs.resolve_asset_graph().get(staging).parent_keys if k.path[0] == "seeds"]
    assert seeds, "stg_helpdesk__tickets reads the vocabulary seeds"
    result = job.execute_in_process(asset_selection=[staging, *seeds], raise_on_error=False, partition_key=partition)

    failures = [e.event_specific_data.error.to_string() for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert not any("dbt build failed" in f for f in failures), failures
    checks = {e.event_specific_data.check_name: e.event_specific_data.passed
              for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    channel_test = next(name for name in checks if name.startswith("accepted_values_stg_helpdesk__tickets_channel"))
    assert checks[channel_test] is False
    assert checks["not_null_stg_helpdesk__tickets_ticket_id"] is True
