"""dbt in the step's own process (pipelines/dbt_in_process.py), against a real warehouse file: the
same Dagster events and failures as dagster-dbt's subprocess, and the warehouse released after every
build, finished, failed or stopped midway (another process can then write to it)."""
from __future__ import annotations

import subprocess
import sys
import threading

import dagster as dg
import pytest
from dagster_dbt import DagsterDbtCliRuntimeError

from pipelines import compat, dbt_in_process
from pipelines.settings import scoped_environ
from pipelines.transform import DBT_REFRESH_ARGS, _build_in_process


def _another_process_can_write(path) -> bool:
    code = f"import duckdb; duckdb.connect({str(path)!r}).execute('CREATE OR REPLACE TABLE _probe AS SELECT 1')"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).returncode == 0


@pytest.fixture
def dbt_env(settings):
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    # as a dbt step runs dbt (pipelines/transform.py dbt_step_environ): a test runs with all it reads
    with scoped_environ({**settings.dbt_env(), "DBT_INDIRECT_SELECTION": "cautious"}):
        yield settings


def test_a_build_yields_dagster_events_and_releases_the_warehouse(dbt_env):
    events = list(_build_in_process(None, ["--select", "resource_type:seed", *DBT_REFRESH_ARGS]))

    built = {e.asset_key for e in events if isinstance(e, dg.AssetMaterialization)}
    assert dg.AssetKey(["seeds", "channel_sla"]) in built and len(built) >= 10, built
    assert _another_process_can_write(dbt_env.warehouse_path), "dbt-duckdb still holds the warehouse"
    import duckdb

    with duckdb.connect(str(dbt_env.warehouse_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM seeds.channel_sla").fetchone()[0] > 0


def test_a_failing_model_raises_dagster_dbts_error_naming_it(dbt_env):
    # A staging view over an export never loaded: raw.tickets does not exist.
    with pytest.raises(DagsterDbtCliRuntimeError) as failed:
        list(_build_in_process(None, ["--select", "stg_helpdesk__tickets", "--resource-type", "model", *DBT_REFRESH_ARGS]))

    message = str(failed.value)
    assert "dbt build" in message and "Runtime Error in model stg_helpdesk__tickets" in message, message
    assert "raw.tickets" in message.split("Runtime Error in model stg_helpdesk__tickets", 1)[1], "dbt's own message follows"
    assert _another_process_can_write(dbt_env.warehouse_path)


def test_a_build_stopped_midway_stops_dbt_and_releases_the_warehouse(dbt_env):
    """What a run's interruption does to the step: the events generator is closed while dbt runs."""
    events = _build_in_process(None, ["--select", "resource_type:seed", *DBT_REFRESH_ARGS])
    next(events)  # dbt has started
    events.close()

    assert not any(t.name == "dbt build" for t in threading.enumerate()), "dbt's thread still runs"
    assert _another_process_can_write(dbt_env.warehouse_path)
    # and the next build of the process works
    assert any(isinstance(e, dg.AssetMaterialization) for e in _build_in_process(None, ["--select", "channel_sla", *DBT_REFRESH_ARGS]))


def test_the_parsed_project_is_reused_until_the_warehouse_name_or_a_file_changes(dbt_env, monkeypatch, tmp_path):
    from pipelines.transform import DBT_PROJECT_DIR, RUN_TARGET_PATH, _project_version

    target, keys, version = DBT_PROJECT_DIR / RUN_TARGET_PATH, tuple(dbt_env.dbt_env()), _project_version()
    first = dbt_in_process.parsed_manifest(target, version, keys)
    assert dbt_in_process.parsed_manifest(target, version, keys) is first
    # A warehouse of the same name in another folder (another test's world): the same project, not parsed again
    monkeypatch.setenv("KPI_WAREHOUSE_PATH", str(tmp_path / "elsewhere" / dbt_env.warehouse_path.name))
    assert dbt_in_process.parsed_manifest(target, version, keys) is first
    same = dbt_in_process._environment_key(keys)
    monkeypatch.setenv("KPI_BASE_CURRENCY", "EUR")  # a var the models read: the key of another parse
    assert dbt_in_process._environment_key(keys) != same
    monkeypatch.setenv("KPI_BASE_CURRENCY", dbt_env.base_currency)
    assert dbt_in_process.parsed_manifest(target, "0" * 16, keys) is not first  # a model edited
    monkeypatch.setenv("KPI_WAREHOUSE_PATH", str(tmp_path / "other" / "other.duckdb"))
    other = dbt_in_process.parsed_manifest(target, version, keys)
    database = {n.database for n in other.nodes.values() if n.name == "stg_helpdesk__tickets"}
    assert database == {"other"}, "a node's database is the warehouse file's name: parsed again for another file"


def test_the_next_process_loads_the_parsed_project_instead_of_parsing(dbt_env, monkeypatch):
    """A process with a warehouse in another folder (dbt would see another profile and parse the whole
    project) loads the manifest the previous process saved; a file that does not load is parsed again."""
    import dbt.cli.main

    from pipelines.transform import DBT_PROJECT_DIR, RUN_TARGET_PATH, _project_version

    target, keys, version = DBT_PROJECT_DIR / RUN_TARGET_PATH, tuple(dbt_env.dbt_env()), _project_version()
    parsed = dbt_in_process.parsed_manifest(target, version, keys)
    saved = dbt_in_process._saved_manifest(target, (dbt_in_process._environment_key(keys), version))
    assert saved.exists()

    dbt_in_process.release_process_state()  # what a new process starts with

    class NoParse:
        def invoke(self, args):
            raise AssertionError(f"dbt {args[0]} run although a parsed project was saved")

    with monkeypatch.context() as mp:
        mp.setattr(dbt.cli.main, "dbtRunner", NoParse)
        loaded = dbt_in_process.parsed_manifest(target, version, keys)
    assert loaded is not parsed and loaded.nodes.keys() == parsed.nodes.keys()
    assert loaded.nodes["model.kpi_warehouse.stg_helpdesk__tickets"].raw_code == parsed.nodes["model.kpi_warehouse.stg_helpdesk__tickets"].raw_code
    # ...and dbt builds with it
    assert any(isinstance(e, dg.AssetMaterialization) for e in _build_in_process(None, ["--select", "channel_sla", *DBT_REFRESH_ARGS]))

    saved.write_bytes(b"cut short")
    dbt_in_process.release_process_state()
    again = dbt_in_process.parsed_manifest(target, version, keys)  # parsed, and saved again
    assert again.nodes.keys() == parsed.nodes.keys() and compat.load_parsed_manifest(saved) is not None
