"""`dbt build` in the step's own process, for the refresh's whole dbt steps on the DuckDB target.

A dbt process costs ~3.5 s before its first query (importing dbt, loading the partial-parse
state), and a refresh runs seven dbt steps. Here dbt runs through its documented programmatic
API (`dbtRunner`), with the project parsed once per process and the parsed manifest handed to
every build (dbt docs, "Programmatic invocations: reusing objects"): ~0.5 s per step. dbt's
events are turned into Dagster's by dagster-dbt, as for its own subprocess, so a step yields the
same outputs, check results and failure (`DagsterDbtCliRuntimeError` with dbt's error messages).

A subset of a step (chosen in the UI) keeps dagster-dbt's subprocess, which computes the subset's
exact dbt selection. dbt runs in a thread of its own so that its events reach Dagster as they
happen, and an interrupted step cancels dbt's queries before it ends."""
from __future__ import annotations

import os
import queue
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtCliRuntimeError, DagsterDbtTranslator, DbtProject

from . import compat
from .settings import DBT_PROJECT_DIR

_DONE = object()
_manifests: dict[tuple, Any] = {}  # (dbt's environment, project version) -> dbt's parsed Manifest
_lock = threading.Lock()  # dbt keeps global state: one invocation at a time per process
CANCEL_GRACE_SECONDS = 30
WAREHOUSE_ENV = "KPI_WAREHOUSE_PATH"  # profiles.yml: the DuckDB file dbt builds in
SAVED_PREFIX = "kpi_parsed-"  # parsed manifests saved for the next process, in the target folder


def is_whole_step(context: dg.AssetExecutionContext, step: dg.AssetsDefinition) -> bool:
    """Whether the run builds every asset and check of the step (not a subset chosen in the UI).
    `step` is the step's own definition: in a subset run, `context.assets_def` is the subset."""
    return (set(context.selected_asset_keys) == set(step.keys)
            and set(context.selected_asset_check_keys) == set(step.check_keys))


def _common_args(target_path: Path) -> list[str]:
    # dbt's log file beside its target, as dagster-dbt puts it; its lines reach Dagster as events, not stdout.
    return ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(target_path), "--log-path", str(target_path), "--no-send-anonymous-usage-stats", "--quiet", "--log-level", "none"]


def _environment_key(env_keys: Sequence[str]) -> tuple:
    """What of dbt's environment the parsed project depends on. Of the warehouse path only the file's
    name: it is every node's database; its folder is not in the manifest (a parse for any other folder
    is the same), so one parse serves every warehouse of that name in the process (e.g. each test's)."""
    return tuple((k, Path(os.environ[k]).stem if k == WAREHOUSE_ENV and os.environ.get(k) else os.environ.get(k))
                 for k in env_keys)


def _saved_manifest(target_path: Path, key: tuple) -> Path:
    import hashlib
    from importlib.metadata import version

    project_version = key[1]
    digest = hashlib.sha256(repr((key, version("dbt-core"))).encode()).hexdigest()[:16]
    return target_path / f"{SAVED_PREFIX}{project_version}-{digest}.msgpack"


def parsed_manifest(target_path: Path, project_version: str, env_keys: Sequence[str]) -> Any:
    """dbt's Manifest of the project, parsed once for each environment dbt reads (`_environment_key`)
    and each version of the project's files. Kept in the process, and saved in the target folder
    for the next process: one with a warehouse of another folder (a test's, a Celery worker's) loads
    it (~0.5 s) where dbt, seeing another profile, would parse the whole project again (~9 s)."""
    key = (_environment_key(env_keys), project_version)
    if key not in _manifests:
        saved = _saved_manifest(target_path, key)
        manifest = compat.load_parsed_manifest(saved)
        if manifest is None:
            from dbt.cli.main import dbtRunner

            # --no-write-json: no manifest.json (1.2 s); dbt still saves its partial-parse state
            result = dbtRunner().invoke(["parse", "--no-write-json", "--log-level-file", "info", *_common_args(target_path)])
            if not result.success:
                raise DagsterDbtCliRuntimeError(description=f"dbt parse failed in {DBT_PROJECT_DIR}: {result.exception}")
            manifest = result.result
            compat.save_parsed_manifest(manifest, saved)
            for old in target_path.glob(f"{SAVED_PREFIX}*.msgpack"):
                if not old.name.startswith(f"{SAVED_PREFIX}{project_version}-"):
                    old.unlink(missing_ok=True)  # of a project version that is gone
        _manifests.clear()  # one project version per process: an older one is never used again
        _manifests[key] = manifest
    return _manifests[key]


def release_process_state() -> None:
    """Drop what dbt keeps in this process: the parsed manifests and dbt's adapters. Their locks are
    multiprocessing semaphores; a process that ends with os._exit (`kpi`) would leave them to
    Python's resource tracker, which warns of "leaked semaphore objects"."""
    import gc

    with _lock:
        _manifests.clear()
        if "dbt.adapters.factory" in sys.modules:
            from dbt.adapters.factory import reset_adapters

            reset_adapters()
    gc.collect()  # the semaphores are unlinked when their locks are collected


def build(args: Sequence[str], *, manifest: Any, context: dg.AssetExecutionContext | None, manifest_json: dict[str, Any],
          translator: DagsterDbtTranslator, project: DbtProject, target_path: Path) -> Iterator[Any]:
    """Run `dbt build <args>` in this process and yield dagster-dbt's Dagster events for it, as
    `DbtCliResource.cli(...).stream()` would; raise `DagsterDbtCliRuntimeError` when dbt fails."""
    from dbt.cli.main import dbtRunner

    command = ["build", *args, *_common_args(target_path)]
    events: queue.Queue = queue.Queue()
    outcome: dict[str, Any] = {}

    def on_event(msg) -> None:  # called from dbt's threads: keep what dagster-dbt reads, as dicts
        if msg.info.level != "debug":
            events.put(compat.dbt_event_dict(msg))

    def run() -> None:
        try:
            with _lock:
                outcome["result"] = dbtRunner(manifest=manifest, callbacks=[on_event]).invoke(command)
        except BaseException as exc:  # noqa: BLE001 - handed to the step's thread below
            outcome["error"] = exc
        finally:
            events.put(_DONE)

    thread = threading.Thread(target=run, name="dbt build", daemon=True)
    thread.start()
    errors: list[str] = []
    finished = False
    try:
        while (raw := events.get()) is not _DONE:
            if raw["info"]["level"] == "error":
                errors.append(raw["info"]["msg"])
            message = compat.dbt_event_message(raw)
            sys.stdout.write(f"{message}\n")  # dbt's lines in the compute log (`kpi run`: the run's log), as with the subprocess
            sys.stdout.flush()
            yield from message.to_default_asset_events(manifest=manifest_json, dagster_dbt_translator=translator,
                                                       context=context, target_path=target_path, project=project)
        finished = True
    finally:
        if not finished:  # failed, stopped or interrupted while dbt runs: its queries stop first
            compat.cancel_dbt_queries()
        thread.join(timeout=None if finished else CANCEL_GRACE_SECONDS)
        # dbt-duckdb keeps the warehouse open in this process after a run; the gates and the next
        # writer (another process) would find it locked.
        compat.release_dbt_duckdb()
    result = outcome.get("result")
    if "error" in outcome or result is None or not result.success:
        cause = outcome.get("error") or (result.exception if result is not None else None)
        listed = "".join(f"\n\n{e}" for e in errors)
        raise DagsterDbtCliRuntimeError(description=(
            f"The dbt command\n\n`dbt {' '.join(command)}`\n\nfailed (run in the step's process)."
            + (f" {type(cause).__name__}: {cause}" if cause else "")
            + (f"\n\nErrors parsed from dbt logs:{listed}" if errors else "")))
