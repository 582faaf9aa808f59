"""Jobs, the nightly schedule, the freshness schedule and the new-export sensor."""
import datetime as dt
import json

import dagster as dg

from .exports import EXPORTS
from .freshness import freshness_checks
from .ingest import ContractViolation, discover_files, raw_asset_key
from .distributed import CELERY_JOB_SUFFIX, celery_available, kpi_celery_executor
from .settings import get_settings
from .transform import CORE_STEP, dbt_steps

core_step = next(step for step in dbt_steps if step.op.name == CORE_STEP)

# Landing files are external assets: observed, never materialized.
_EVERYTHING = dg.AssetSelection.all() - dg.AssetSelection.key_prefixes("landing")
refresh_all = dg.define_asset_job(
    "refresh_all",
    selection=_EVERYTHING,
    description="Load every export, build every dbt model, run every check, publish.",
)

# The same run with each step on a Celery worker (pipelines/distributed.py; README: "When one machine is
# not enough"). Only when dagster-celery is installed (the `celery` extra; `make setup` installs it).
refresh_all_celery = dg.define_asset_job(
    f"refresh_all{CELERY_JOB_SUFFIX}",
    selection=_EVERYTHING,
    executor_def=kpi_celery_executor(),
    description="refresh_all with every step on a Celery worker (broker: KPI_CELERY_BROKER); the DuckDB writers "
                "still take turns (pool duckdb_writer).",
) if celery_available() else None

ingest_exports = dg.define_asset_job(
    "ingest_exports",
    selection=dg.AssetSelection.key_prefixes("raw"),
    description="Load new or changed landing files into raw (started by the new-export sensor).",
)

export_freshness = dg.define_asset_job(
    "export_freshness",
    selection=dg.AssetSelection.checks(freshness_checks),
    description="Freshness of every export (its cadence) and of the KPI marts (SOP-MK-02's limit); nothing is built.",
)

_settings = get_settings()
if _settings.executor == "celery" and refresh_all_celery is None:
    raise RuntimeError("KPI_EXECUTOR=celery needs dagster-celery and redis: pip install -e '.[celery]' (make setup does)")


@dg.schedule(
    name="nightly_refresh",
    # KPI_EXECUTOR=celery: the nightly run's steps go to the Celery workers.
    job=refresh_all_celery if _settings.executor == "celery" else refresh_all,
    cron_schedule=_settings.nightly_cron,
    execution_timezone=_settings.business_timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Refresh the business day that just ended (its partition: incremental dbt models rebuild that day "
                "and KPI_INCREMENTAL_LOOKBACK_DAYS before it) at KPI_NIGHTLY_CRON in the business timezone.",
)
def nightly_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    # The scheduled time is in the business timezone: at 02:00 the day before is complete.
    covers = (context.scheduled_execution_time - dt.timedelta(days=1)).date()
    return dg.RunRequest(
        run_key=f"nightly-{covers.isoformat()}",
        partition_key=covers.isoformat(),
        tags={"kpi/trigger": "nightly_schedule", "kpi/covers_date": covers.isoformat()},
    )


@dg.schedule(
    name="export_freshness_hourly",
    job=export_freshness,
    cron_schedule="15 * * * *",
    execution_timezone=_settings.business_timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every hour: a stale export (or marts not refreshed in time) shows as a failed freshness check.",
)
def export_freshness_hourly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest(tags={"kpi/trigger": "freshness_schedule"})


def _file_signatures(landing_dir) -> tuple[dict[str, tuple[str, int, int]], list[str]]:
    """{relative path: (export, size, mtime_ns)} for every landing file; refused files reported apart."""
    found, refused = {}, []
    for e in EXPORTS:
        try:
            files = discover_files(landing_dir, e)
        except ContractViolation as exc:
            refused.append(str(exc))
            continue
        for p in files:
            st = p.stat()
            found[p.relative_to(landing_dir.resolve()).as_posix()] = (e.name, st.st_size, st.st_mtime_ns)
    return found, refused


@dg.sensor(
    name="new_export_files",
    job=ingest_exports,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Starts an ingest run for each export with new or changed files in the landing folder; files already "
        "seen start nothing. Its first tick only records what is there (the nightly refresh loads that)."
    ),
)
def new_export_files(context: dg.SensorEvaluationContext):
    settings = get_settings()
    found, refused = _file_signatures(settings.landing_dir)
    for message in refused:
        context.log.warning(message)
    state = _export_states(found)
    if context.cursor is None:
        context.update_cursor(json.dumps(state))
        return dg.SkipReason(f"baseline: {len(found)} files already in {settings.landing_dir}")
    seen = json.loads(context.cursor)
    context.update_cursor(json.dumps(state))
    changed = [export for export in sorted(state) if seen.get(export, {}).get("digest") != state[export]["digest"]]
    if not changed:
        return dg.SkipReason(f"no new or changed files among {len(found)} in {settings.landing_dir}")
    by_name = {e.name: e for e in EXPORTS}
    requests = []
    # One run per export: a day's delivery is one file per export, and one load handles many.
    for export in changed:
        newest_seen = seen.get(export, {}).get("newest", 0)
        new = sorted(rel for rel, (e, _, mtime) in found.items() if e == export and mtime > newest_seen)
        requests.append(dg.RunRequest(
            run_key=f"{export}:{state[export]['digest']}",
            asset_selection=[raw_asset_key(by_name[export])],
            tags={"kpi/trigger": "new_export_file", "kpi/export": export, "kpi/files": str(len(new)),
                  "kpi/first_file": (new[0] if new else "(a file changed or left without a newer time)")[:200]},
        ))
    return requests


def _export_states(found: dict[str, tuple[str, int, int]]) -> dict[str, dict]:
    """Per export: its files' count, newest mtime and a digest of every file's size-mtime. The sensor's
    cursor: a few lines per export, however many files the landing folder has held."""
    import hashlib

    by_export: dict[str, list[tuple[str, int, int]]] = {}
    for rel, (export, size, mtime) in found.items():
        by_export.setdefault(export, []).append((rel, size, mtime))
    return {export: {"files": len(files), "newest": max(mtime for _, _, mtime in files),
                     "digest": hashlib.sha1(json.dumps(sorted(files)).encode()).hexdigest()[:16]}
            for export, files in by_export.items()}


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every failed run raises an alert (ops.alerts, the log, and the webhook if configured), "
                "naming the blocking checks that failed.",
)
def alert_on_run_failure(context: dg.RunFailureSensorContext) -> None:
    from .alerts import alert_for_failed_run

    run = context.dagster_run
    alert_for_failed_run(context.instance, run.run_id, run.job_name)


# One domain's bad data holds back that domain only. A failed data gate is a blocking check: Dagster
# skips the steps downstream of its asset in that run, the held domain's and the cross-domain core
# (dbt_core: the long KPI table, SOP compliance) with publish. A second run builds the core from every
# domain's newest rows (the held domain's last good ones, marked stale) and publishes: `kpi run`
# launches it itself, the daemon through this sensor.
publish_kpis = dg.define_asset_job(
    "publish_kpis",
    selection=dg.AssetSelection.assets(*core_step.keys) | dg.AssetSelection.groups("serving"),
    description="Build the cross-domain core (the long KPI table, SOP compliance) from the warehouse as it is and "
                "publish the serving snapshot and the dashboard. Launched after a refresh whose failed data gate "
                "held a domain back (its KPIs stale, every other domain fresh).",
)


def held_by_run(run_id: str) -> list:
    """The KPI marts a failed data gate of the run held back (sop.results.MartHold): that run built
    neither the long KPI table nor the snapshot, a publish run should follow. Empty otherwise."""
    from .sop.results import held_marts
    from .warehouse import connect

    warehouse = get_settings().warehouse_path
    if not warehouse.exists():
        return []
    with connect(warehouse, read_only=True) as con:
        return [h for h in held_marts(con) if h.run_id == run_id]


@dg.run_failure_sensor(
    name="publish_after_held_domain",
    monitored_jobs=[refresh_all, *([refresh_all_celery] if refresh_all_celery else [])],
    request_job=publish_kpis,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After a refresh whose failed data gate held a domain back: build the long KPI table and publish, "
                "the other domains' KPIs fresh, the held domain's last good rows marked stale.",
)
def publish_after_held_domain(context: dg.RunFailureSensorContext):
    run = context.dagster_run
    held = held_by_run(run.run_id)
    if not held:
        return dg.SkipReason(f"run {run.run_id[:8]} held no domain back")
    # publish_kpis is not partitioned (the dbt steps and serving are not): it reads the warehouse as it is.
    return dg.RunRequest(run_key=f"publish-after-{run.run_id}",
                         tags={"kpi/trigger": "held_domain", "kpi/after_run": run.run_id,
                               "kpi/held_marts": ",".join(h.mart for h in held)[:200]})


jobs = [refresh_all, ingest_exports, export_freshness, publish_kpis, *([refresh_all_celery] if refresh_all_celery else [])]
schedules = [nightly_refresh, export_freshness_hourly]
sensors = [new_export_files, alert_on_run_failure, publish_after_held_domain]
