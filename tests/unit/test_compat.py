"""The library internals pipelines/compat.py relies on are still there and behave as it assumes: a
Dagster or dagster-dbt release that changes one fails here, not silently in a run. And no module of
pipelines/ other than compat.py touches them."""
from __future__ import annotations

import inspect
import re
from importlib.metadata import version
from pathlib import Path

from dagster_dbt import DbtCliResource

from pipelines.compat import KpiDbtCliResource
from pipelines.transform import dbt_resource

PRIVATE = re.compile(r"dagster\._core|_replace\(|asset_utils|_error_messages|_cli_version|_initialize_dbt_core_adapter"
                     r"|dbt_cli_event|msg_to_dict|\bFACTORY\b|\._ENV\b|_msgpack|extended_mashum")


def test_no_private_api_outside_compat():
    pipelines = Path(__file__).resolve().parents[2] / "pipelines"
    found = [f"{p.relative_to(pipelines.parent)}:{n}" for p in pipelines.rglob("*.py") if p.name != "compat.py"
             for n, line in enumerate(p.read_text().splitlines(), 1) if PRIVATE.search(line)]
    assert found == []


def test_the_dbt_resource_hooks_it_overrides_still_exist_in_dagster_dbt():
    # A dagster-dbt upgrade that renames them would silently bring the costs back.
    assert callable(DbtCliResource._initialize_dbt_core_adapter)
    assert "_cli_version" in vars(DbtCliResource)
    assert isinstance(dbt_resource(), KpiDbtCliResource)


def test_version_from_the_installed_package_and_no_adapter(monkeypatch):
    import dagster_dbt.core.resource as dagster_dbt_resource

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"dbt --version was run: {args}")

    # where dagster-dbt's own _cli_version runs `dbt --version`
    monkeypatch.setattr(dagster_dbt_resource, "check_output", no_subprocess)
    resource = dbt_resource()
    assert str(resource._cli_version) == version("dbt-core")
    assert resource._initialize_dbt_core_adapter(["build"]) is None


def test_the_event_log_storage_overrides_what_sqlite_event_log_storage_has():
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    from pipelines.compat import KeptEngineSqliteEventLogStorage

    # the methods it replaces, with the attributes its _connect uses
    for name in ("_connect", "wipe", "conn_string_for_shard", "_initdb", "from_config_value", "config_type", "has_table"):
        assert callable(getattr(SqliteEventLogStorage, name)), name
    assert "self._initialized_dbs" in inspect.getsource(SqliteEventLogStorage.__init__)
    assert "self._db_lock" in inspect.getsource(SqliteEventLogStorage.__init__)
    assert inspect.isgeneratorfunction(inspect.unwrap(SqliteEventLogStorage._connect))
    assert issubclass(KeptEngineSqliteEventLogStorage, SqliteEventLogStorage)


def test_the_event_log_looks_a_table_up_once_it_exists(tmp_path, monkeypatch):
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    from pipelines.compat import KeptEngineSqliteEventLogStorage

    storage = KeptEngineSqliteEventLogStorage(base_dir=str(tmp_path))
    asked: list[str] = []
    looked_up = SqliteEventLogStorage.has_table
    monkeypatch.setattr(SqliteEventLogStorage, "has_table", lambda self, name: asked.append(name) or looked_up(self, name))

    assert all(storage.supports_asset_checks for _ in range(5))  # what Dagster asks per check event
    assert asked == ["asset_check_executions"]
    assert not storage.has_table("no_such_table") and not storage.has_table("no_such_table")
    assert asked.count("no_such_table") == 2, "absence is not remembered: a migration may add the table"
    storage.wipe()
    assert storage.supports_asset_checks and asked.count("asset_check_executions") == 2, "forgotten on wipe"


def test_reconstructable_job_of_the_code_location():
    from pipelines.compat import reconstructable_job

    recon = reconstructable_job("pipelines.definitions", "defs", "refresh_all")
    assert recon.get_definition().name == "refresh_all"


def test_a_dbt_event_becomes_dagster_dbts_event_message():
    from dbt_common.events.base_types import EventLevel, msg_from_base_event
    from dbt_common.events.types import Note

    from pipelines import compat
    from pipelines.transform import dbt_manifest

    raw = compat.dbt_event_dict(msg_from_base_event(Note(msg="hello"), level=EventLevel.INFO))
    assert raw["info"]["name"] == "Note" and raw["info"]["level"] == "info" and raw["info"]["msg"] == "hello"
    message = compat.dbt_event_message(raw)
    assert str(message) == "hello" and not message.is_result_event
    assert list(message.to_default_asset_events(manifest=dbt_manifest())) == []


def test_what_dbt_in_process_relies_on_in_dbt_and_dbt_duckdb():
    # tests/integration/test_dbt_in_process.py shows the behaviour (warehouse released, dbt stopped)
    from dbt.adapters.base import BaseAdapter
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.adapters.factory import FACTORY

    assert "_ENV" in vars(DuckDBConnectionManager) and hasattr(DuckDBConnectionManager._LOCK, "acquire")
    assert isinstance(FACTORY.adapters, dict) and callable(BaseAdapter.cancel_open_connections)


def test_what_the_saved_parsed_project_relies_on_in_dbt():
    # tests/integration/test_dbt_in_process.py shows a saved manifest loaded by the next process and built with
    from dbt.contracts.graph.manifest import Manifest
    from dbt.parser.manifest import extended_mashumaro_encoder, extended_mashumuro_decoder

    assert callable(Manifest.to_msgpack) and callable(Manifest.from_msgpack)
    assert callable(extended_mashumaro_encoder) and callable(extended_mashumuro_decoder)
