"""Steps on Celery workers (dagster-celery, Redis as the broker): the executor and the workers' app.

The run's orchestrator (`kpi run --executor celery`, or the run a webserver launches for the job
`refresh_all_celery`) puts each step on the broker's `dagster` queue; any worker started with

    celery -A pipelines.distributed worker --concurrency 1 -n w1@%h

with the same code, DAGSTER_HOME and KPI_* settings takes it, runs it and reports its events to
the run's instance. The broker and result backend come from the environment (KPI_CELERY_BROKER,
KPI_CELERY_BACKEND, pipelines/settings.py), so the orchestrator and the workers agree on them.

DuckDB still takes one writer at a time: every warehouse-writing step is in the pool
`duckdb_writer` (limit 1, config/dagster.yaml), and the Celery orchestrator claims a pool slot
before it submits a step, so two workers never write the warehouse at once.
"""
from __future__ import annotations

import dagster as dg

from .settings import get_settings

# Steps are submitted to this queue (dagster-celery's default); a worker must listen on it.
QUEUE = "dagster"
# The job that runs refresh_all's steps on the workers (automation.py).
CELERY_JOB_SUFFIX = "_celery"


def celery_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("dagster_celery") is not None and importlib.util.find_spec("redis") is not None


def _config(config: dict) -> dict:
    # Read at run time, in the orchestrator and in each worker: the environment decides, run config overrides.
    settings = get_settings()
    return {
        "broker": config.get("broker") or settings.celery_broker,
        "backend": config.get("backend") or settings.celery_backend,
        # A failed step is not run again on another worker: as with the in-process executor, the run fails.
        "retries": {"disabled": {}},
    }


def kpi_celery_executor() -> dg.ExecutorDefinition:
    """dagster-celery's executor with the broker and backend from the environment (run config may override)."""
    from dagster_celery import celery_executor

    return celery_executor.configured(
        _config,
        name="kpi_celery",
        config_schema={
            "broker": dg.Field(dg.Noneable(str), is_required=False, default_value=None,
                               description="Broker URL (default: KPI_CELERY_BROKER, else redis://127.0.0.1:6379/0)"),
            "backend": dg.Field(dg.Noneable(str), is_required=False, default_value=None,
                                description="Result backend URL (default: KPI_CELERY_BACKEND, else the broker)"),
        },
    )


def make_worker_app():
    """The Celery app of the workers: dagster-celery's step task, configured as the executor is."""
    from dagster_celery.executor import CeleryExecutor
    from dagster_celery.make_app import make_app
    from dagster_celery.tasks import create_task

    cfg = _config({})
    # dagster-celery's defaults (prefetch 1: a worker does not reserve the next step while it works).
    celery_app = make_app(CeleryExecutor.for_cli(broker=cfg["broker"], backend=cfg["backend"]).app_args())
    create_task(celery_app)
    return celery_app


def __getattr__(name: str):
    # `celery -A pipelines.distributed worker` looks up `app` (or `celery`): built on first access, so
    # importing this module for the executor needs no broker settings.
    if name in ("app", "celery"):
        global app
        app = make_worker_app()
        return app
    raise AttributeError(name)
