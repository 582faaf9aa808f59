"""Run a job from this process with concise progress on the console (used by `kpi run` and `make demo`).

The steps run in this process (in_process executor) or on Celery workers (`--executor celery`).

Runs are recorded in DAGSTER_HOME when it is set (so they show in the UI), else in a
throw-away instance.
"""
from __future__ import annotations

import collections
import contextlib
import fcntl
import logging
import os
import re
import sys
import time
import warnings

import dagster as dg


class _ProgressHandler(logging.Handler):
    """One line per materialized asset and per failed check; warnings and errors as they come."""

    def __init__(self, stream_print=print):
        super().__init__(level=logging.DEBUG)
        self.print = stream_print
        self.counts = {"assets": 0, "partitions": 0, "checks_passed": 0, "checks_failed": 0}
        self.materialized: set = set()
        # Wall-clock seconds per step (for KPI_TIMINGS_PATH / `kpi bench`).
        self.step_started: dict[str, float] = {}
        self.step_seconds: dict[str, float] = {}
        self.first_step_at: float | None = None
        self.event_counts: dict[str, int] = {}

    def _time_steps(self, kind: str, step_key: str | None, message: str, at: float | None = None) -> None:
        at = time.perf_counter() if at is None else at
        self.event_counts[kind or "LOG"] = self.event_counts.get(kind or "LOG", 0) + 1
        if kind == "STEP_START" and step_key:
            self.step_started[step_key] = at
            self.first_step_at = self.first_step_at or self.step_started[step_key]
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and step_key in self.step_started:
            self.step_seconds[step_key] = at - self.step_started[step_key]

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        self.on_event(meta.get("dagster_event"), meta.get("step_key"), str(meta.get("orig_message") or ""),
                    record.levelno, fallback_message=record.getMessage())

    def handle_entry(self, entry) -> None:
        """An event read back from the run's event log (runs whose steps execute in other processes)."""
        # Event times are epoch seconds: put them on the perf_counter scale the step timings use.
        at = time.perf_counter() - (time.time() - entry.timestamp)
        self.on_event(entry.dagster_event, entry.step_key, entry.user_message or "", entry.level, at=at)

    def on_event(self, event, step_key: str | None, message: str, level: int, *, at: float | None = None,
               fallback_message: str | None = None) -> None:
        self._time_steps(event.event_type_value if event is not None else None, step_key, message, at)
        if event is None:
            if level >= logging.WARNING:
                self.print(f"  ! {step_key or ''} {_skipped_step(message or fallback_message or '')}")
            return
        kind = event.event_type_value
        if kind == "ASSET_MATERIALIZATION":
            m = event.event_specific_data.materialization
            # A run of many days materializes a partitioned asset once per day: one line per asset.
            self.counts["partitions"] += m.partition is not None
            if m.asset_key in self.materialized:
                return
            self.materialized.add(m.asset_key)
            self.counts["assets"] += 1
            md = m.metadata
            facts = [f"{k}={md[k].value:,}" for k in ("rows_loaded", "rows_rejected", "dagster/row_count") if k in md]
            self.print(f"  ✓ {m.asset_key.to_user_string():<55} {' '.join(facts)}")
        elif kind == "ASSET_CHECK_EVALUATION":
            ev = event.event_specific_data
            if ev.passed:
                self.counts["checks_passed"] += 1
            else:
                self.counts["checks_failed"] += 1
                self.print(f"  ✗ check {ev.asset_key.to_user_string()}:{ev.check_name} failed ({ev.severity.value})"
                           + _failing_rows(ev.metadata or {}))
        elif kind == "STEP_FAILURE":
            self.print(f"  ✗ step {event.step_key} failed: {_root_error(event.event_specific_data.error)}")


def _failing_rows(metadata) -> str:
    """How many rows a failed check found: dbt's count of a test's failing rows, a gate's unexpected rows."""
    for key in ("dagster_dbt/failed_row_count", "unexpected_rows"):
        if key in metadata and metadata[key].value is not None:
            return f": {metadata[key].value:,} row(s) failing"
    return ""


def _root_error(err, max_lines: int = 12) -> str:
    """The error a step's own code raised (its message names the file, the test, the rows), not
    Dagster's wrapper around it ("Error occurred while executing op ...")."""
    if err is None:
        return ""
    while err.cause is not None and err.cls_name in ("DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"):
        err = err.cause
    lines = err.message.strip().splitlines()
    more = f"\n      ... {len(lines) - max_lines} more line(s) in the run log" if len(lines) > max_lines else ""
    return "\n      ".join(lines[:max_lines]) + more


def _skipped_step(message: str) -> str:
    """Dagster's "Dependencies for step X failed: ['a', 'a', ...]. Dependencies for step X were not
    executed: ['b']. Not executing." names one upstream step per input: each step once, failed first."""
    parts = re.findall(r"Dependencies for step \S+ (failed|were not executed): \[([^\]]*)\]", message)
    if not parts or not message.strip().endswith("Not executing."):
        return message
    said = []
    for how, names in parts:
        steps = list(dict.fromkeys(n.strip(" '\"") for n in names.split(",") if n.strip(" '\"")))
        said.append(f"{', '.join(steps)} {'failed' if how == 'failed' else 'did not run'}")
    return "not run: its upstream step(s) " + "; ".join(said)


def _instance() -> dg.DagsterInstance:
    """DAGSTER_HOME's instance (a throw-away one when unset), its storage created under a file lock.

    Two `kpi run` started together on a new DAGSTER_HOME would otherwise both create the
    SQLite schemas and one would fail (UNIQUE constraint failed: alembic_version).
    """
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return dg.DagsterInstance.ephemeral()
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, ".instance.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        instance = dg.DagsterInstance.get()
        # Touch every storage so its schema exists before the lock is released.
        instance.get_runs(limit=1)
        instance.event_log_storage.get_latest_materialization_events([])
        instance.schedule_storage  # noqa: B018 (created on first access)
    return instance


def _write_timings(handler: _ProgressHandler, t0: float, success: bool) -> None:
    """When KPI_TIMINGS_PATH is set (by `kpi bench`), write where the run's time went as JSON."""
    path = os.environ.get("KPI_TIMINGS_PATH")
    if not path:
        return
    import json

    with open(path, "w") as f:
        json.dump({"success": success, "run_seconds": time.perf_counter() - t0, "steps": handler.step_seconds,
                   "event_counts": handler.event_counts,
                   # run start to the first step: the instance, and Dagster's planned events for every asset and check
                   "launch_seconds": (handler.first_step_at or t0) - t0,
                   "since_process_start": time.time() - _process_start_time()}, f, indent=1)


def _process_start_time() -> float:
    """Epoch seconds at which this process started (Linux /proc; now when unknown)."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        ticks = int(open(f"/proc/{os.getpid()}/stat").read().rsplit(")", 1)[1].split()[19])
        boot = next(float(line.split()[1]) for line in open("/proc/stat") if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    return time.time()


def partition_tags(partitions: str | None) -> dict[str, str]:
    """`DAY` or `FIRST..LAST` (business dates) → the run tags of one partition or of a range (one run)."""
    if not partitions:
        return {}
    from .partitions import DAILY

    first, _, last = partitions.partition("..")
    last = last or first
    keys = set(DAILY.get_partition_keys())
    for day in (first, last):
        if day not in keys:
            raise ValueError(f"partition {day!r}: not a day of the daily partitions "
                             f"({DAILY.start:%Y-%m-%d} up to yesterday, YYYY-MM-DD: the data's first day when the code was "
                             f"loaded, or KPI_PARTITIONS_START)")
    if first > last:
        raise ValueError(f"partition range {partitions!r}: the first day is after the last")
    if first == last:
        return {"dagster/partition": first}
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


def run_job(job_name: str = "refresh_all", *, print_fn=None, partitions: str | None = None,
            full_refresh: bool | None = None, executor: str | None = None) -> bool:
    """Run a job; progress goes to print_fn (default: stdout), dbt's own log to a file beside the warehouse.

    `partitions`: a day or `FIRST..LAST` (one run; the incremental dbt models rebuild that window).
    Without it, a full refresh: one run of the data's days in the landing folder (partitions.covered_partitions)
    with `full_refresh` (every day rebuilt).
    `full_refresh` (default: when no partition is given) rebuilds the incremental models from scratch.
    `executor`: `in_process` (every step in this process) or `celery` (every step on a Celery worker,
    pipelines/distributed.py); default KPI_EXECUTOR.
    """
    from .definitions import defs
    from .settings import get_settings

    settings = get_settings()
    executor = executor or settings.executor
    console = sys.stdout
    print_fn = print_fn or (lambda line: print(line, file=console, flush=True))
    handler = _ProgressHandler(print_fn)
    run_log = settings.warehouse_path.parent / "last_run.log"
    run_log.parent.mkdir(parents=True, exist_ok=True)

    @dg.logger
    def progress_logger(_init_context):
        log = logging.getLogger("kpi.progress")
        log.handlers = [handler]
        log.setLevel(logging.DEBUG)
        log.propagate = False
        return log

    job = defs.resolve_job_def(job_name).with_logger_defs({"progress": progress_logger})
    if executor == "celery":
        _check_celery_job(defs, job_name)
    if full_refresh is None:
        full_refresh = not partitions
    if not partitions and job.partitions_def is not None:
        # A full refresh is one run of every day of the data (its raw assets' partitions all marked),
        # with --full-refresh (dbt rebuilds every day); the newest day's run before any data.
        from .partitions import covered_partitions

        partitions = covered_partitions(settings) or job.partitions_def.get_last_partition_key()
    tags = partition_tags(partitions)
    run_config: dict = {"loggers": {"progress": {}}}
    if full_refresh:
        run_config["resources"] = {"dbt_build": {"config": {"full_refresh": True}}}
    instance = _instance()
    if executor == "celery" and instance.is_ephemeral:
        raise ValueError("--executor celery needs DAGSTER_HOME: the workers record the steps' events in its instance")
    # A run killed earlier (SIGKILL) still holds the duckdb_writer slot: free it, or this run waits forever.
    from .warehouse import process_tags, release_dead_writers

    release_dead_writers(instance, log=print_fn)
    t0 = time.perf_counter()
    # dagster-dbt echoes every dbt log line to stdout: keep it in a file, not on the console.
    with instance, open(run_log, "w") as log_file, contextlib.redirect_stdout(log_file), _alerts_to(log_file) as alerts:
        if executor == "celery":
            success, run_id = _run_on_celery(job_name, instance, run_config, {**process_tags(), **tags}, handler)
        else:
            partition_key = tags.pop("dagster/partition", None)
            result = job.execute_in_process(
                instance=instance, raise_on_error=False, run_config=run_config, tags={**process_tags(), **tags},
                partition_key=partition_key,
            )
            success, run_id = result.success, result.run_id
        if not success:
            # No daemon watches runs started from here: raise the failure alert here.
            from .alerts import alert_for_failed_run

            alert = alert_for_failed_run(instance, run_id, job_name)
            print_fn(f"  ! alert raised: {alert.title} (see ops.alerts)")
            # A failed data gate held a domain back: Dagster skipped it and the cross-domain core. Build
            # the core from every domain's newest rows and publish, in a run of its own (automation.py).
            from .automation import held_by_run

            held = held_by_run(run_id)
            for h in held:
                print_fn(f"  ! held back: {h.mart} (gate {h.gate}: {h.reason}); its last good rows "
                         f"({h.built_at or 'none yet'}) stay, marked stale")
            if held:
                publish_config = {k: v for k, v in run_config.items() if k in ("loggers", "resources")}
                published = defs.resolve_job_def("publish_kpis").with_logger_defs({"progress": progress_logger}) \
                    .execute_in_process(instance=instance, raise_on_error=False, run_config=publish_config,
                                        tags={**process_tags(), "kpi/trigger": "held_domain", "kpi/after_run": run_id})
                print_fn(f"  {'published' if published.success else '! publish FAILED'}: the other domains' fresh "
                         f"KPIs (run {published.run_id[:8]})")
    if alerts:  # each alert is in ops.alerts and the run log; the console gets one line, not its JSON
        kinds = ", ".join(f"{kind} ×{n}" for kind, n in sorted(collections.Counter(alerts).items()))
        print_fn(f"  ! {len(alerts)} alert(s) raised: {kinds} (ops.alerts; each in {run_log})")
    from .compat import release_event_log

    release_event_log()  # `kpi` ends with os._exit: leave the run history checkpointed, not in a WAL
    _write_timings(handler, t0, success)
    c = handler.counts
    status = "succeeded" if success else "FAILED"
    where = " on Celery workers" if executor == "celery" else ""
    days = f" ({c['partitions']:,} asset partitions)" if c["partitions"] > c["assets"] else ""
    print_fn(
        f"run {run_id[:8]} {status}{where} in {time.perf_counter() - t0:.1f}s: {c['assets']} assets materialized{days}, "
        f"{c['checks_passed']} checks passed, {c['checks_failed']} failed (dbt log: {run_log})"
    )
    return success


@contextlib.contextmanager
def _alerts_to(log_file):
    """The alerts a run raises (pipelines/alerts.py logs each, its kind on the record) go to the run
    log, not to the console between the progress lines; yields the kinds, in order."""
    from .alerts import ALERT_KIND

    kinds: list[str] = []

    class _Kinds(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if hasattr(record, ALERT_KIND):
                kinds.append(getattr(record, ALERT_KIND))

    to_file = logging.StreamHandler(log_file)
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    alerts_log = logging.getLogger("kpi.alerts")
    saved = alerts_log.handlers, alerts_log.propagate
    alerts_log.handlers, alerts_log.propagate = [to_file, _Kinds()], False
    try:
        yield kinds
    finally:
        alerts_log.handlers, alerts_log.propagate = saved


def _check_celery_job(defs, job_name: str) -> None:
    from .distributed import CELERY_JOB_SUFFIX, celery_available

    if not celery_available():
        raise ValueError("--executor celery needs dagster-celery and redis: pip install -e '.[celery]' (make setup does)")
    names = {j.name for j in defs.resolve_all_job_defs()}
    if job_name + CELERY_JOB_SUFFIX not in names:
        runs = sorted(n.removesuffix(CELERY_JOB_SUFFIX) for n in names if n.endswith(CELERY_JOB_SUFFIX))
        raise ValueError(f"job {job_name!r} has no Celery variant; on Celery workers: {', '.join(runs)}")


def _run_on_celery(job_name: str, instance: dg.DagsterInstance, run_config: dict, tags: dict[str, str],
                   handler: _ProgressHandler) -> tuple[bool, str]:
    """Orchestrate the job's Celery variant from this process; the steps run on the workers.

    The workers rebuild the job from the code location (pipelines.definitions) and write each step's
    events to the run's instance: this process reads them back as they arrive for the progress lines.
    """
    import threading
    import uuid

    from .compat import reconstructable_job
    from .distributed import CELERY_JOB_SUFFIX

    recon = reconstructable_job("pipelines.definitions", "defs", job_name + CELERY_JOB_SUFFIX)
    launch = uuid.uuid4().hex
    # The progress lines come from the event log (below), not from a logger: Dagster's console logger,
    # here and in every worker, would print each event of each step. Warnings and errors are enough.
    config = {**{k: v for k, v in run_config.items() if k != "loggers"},
              "loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    done = threading.Event()
    found: dict[str, str] = {}

    def follow() -> None:
        # Reads the run's event log while the run goes on (its own instance object: a thread of its own).
        with dg.DagsterInstance.from_ref(instance.get_ref()) as reader:
            cursor = None
            while True:
                finished = done.is_set()
                if "run_id" not in found:
                    runs = reader.get_runs(filters=dg.RunsFilter(tags={"kpi/launch": launch}), limit=1)
                    if runs:
                        found["run_id"] = runs[0].run_id
                if "run_id" in found:
                    while True:
                        conn = reader.get_records_for_run(found["run_id"], cursor=cursor, limit=500)
                        for record in conn.records:
                            handler.handle_entry(record.event_log_entry)
                        cursor = conn.cursor
                        if not conn.has_more:
                            break
                if finished:
                    return
                done.wait(0.5)

    follower = threading.Thread(target=follow, name="kpi-celery-progress", daemon=True)
    follower.start()
    try:
        with warnings.catch_warnings():
            # dagster-celery registers its step task again for every step it submits; Celery warns each time.
            warnings.filterwarnings("ignore", message="Task name 'execute_plan' is already registered")
            result = dg.execute_job(recon, instance=instance, run_config=config, tags={**tags, "kpi/launch": launch})
    finally:
        done.set()
        follower.join(timeout=60)
    return result.success, result.run_id
