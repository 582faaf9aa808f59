"""The Celery variant of the refresh: same assets as refresh_all, broker from the environment, clear errors."""
from __future__ import annotations

import pytest

from pipelines.settings import Settings


def test_celery_job_runs_the_same_assets_as_refresh_all_on_the_celery_executor():
    from pipelines.definitions import defs

    plain, celery = defs.resolve_job_def("refresh_all"), defs.resolve_job_def("refresh_all_celery")
    assert celery.executor_def.name == "kpi_celery"
    assert plain.executor_def.name == "in_process"
    assert celery.asset_layer.executable_asset_keys == plain.asset_layer.executable_asset_keys
    assert celery.partitions_def == plain.partitions_def


def test_broker_and_backend_come_from_the_environment(monkeypatch):
    from pipelines.distributed import _config, make_worker_app

    monkeypatch.delenv("KPI_CELERY_BACKEND", raising=False)
    monkeypatch.setenv("KPI_CELERY_BROKER", "redis://10.1.2.3:6380/2")
    cfg = _config({})
    assert cfg["broker"] == cfg["backend"] == "redis://10.1.2.3:6380/2"  # rpc:// would need AMQP
    assert _config({"broker": "redis://other:1/0"})["broker"] == "redis://other:1/0"  # run config wins
    monkeypatch.setenv("KPI_CELERY_BACKEND", "redis://10.1.2.3:6380/3")
    app = make_worker_app()  # what `celery -A pipelines.distributed worker` loads: no connection yet
    assert app.conf.broker_url == "redis://10.1.2.3:6380/2"
    assert app.conf.result_backend == "redis://10.1.2.3:6380/3"
    assert "execute_plan" in app.tasks and [q.name for q in app.conf.task_queues] == ["dagster"]


def test_executor_setting_is_checked(monkeypatch):
    monkeypatch.setenv("KPI_EXECUTOR", "Celery")
    assert Settings.from_env().executor == "celery"
    monkeypatch.setenv("KPI_EXECUTOR", "spark")
    with pytest.raises(ValueError, match="KPI_EXECUTOR must be one of in_process, celery"):
        Settings.from_env()


def test_run_job_celery_without_dagster_home_says_why(tmp_path, monkeypatch):
    # Workers record the steps' events in the run's instance: a throw-away instance cannot be shared.
    # (`kpi run` always has one: DAGSTER_HOME defaults to the project's .dagster/; run_job called from
    # Python without DAGSTER_HOME does not.)
    from pipelines.runner import run_job

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("KPI_WAREHOUSE_PATH", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("KPI_LANDING_DIR", str(tmp_path / "landing"))
    with pytest.raises(ValueError, match="--executor celery needs DAGSTER_HOME"):
        run_job("refresh_all", executor="celery")
