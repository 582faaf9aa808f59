"""dbt models as Dagster assets, keyed so the lineage runs raw → staging → intermediate → marts."""

import functools
import json
import os
import signal
import subprocess
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from . import dbt_in_process
from .dbt_checks import describe_dbt_test, leading_comment
from .ingest import DUCKDB_WRITER_POOL
from .kpis import with_kpi_metadata
from .partitions import run_window
from .settings import DBT_PROJECT_DIR, get_settings, scoped_environ
from .sop.refresh import SopGates, after_core_step, record_marts_built, unselected_gate_views

# The venv's own dbt: a webserver started without an activated venv has no `dbt` on PATH.
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)

_DBT_INPUTS = ("models", "macros", "seeds", "tests", "snapshots", "analyses")


def _input_files() -> list[tuple[str, os.stat_result]]:
    """The files dbt parses (dbt_project.yml, models, macros, seeds, ...) with their stat."""
    files = [("dbt_project.yml", (DBT_PROJECT_DIR / "dbt_project.yml").stat())]
    for sub in _DBT_INPUTS:
        files += [(str(p.relative_to(DBT_PROJECT_DIR)), p.stat()) for p in (DBT_PROJECT_DIR / sub).rglob("*") if p.is_file()]
    return files


def _newest_input_mtime() -> float:
    return max(st.st_mtime for _, st in _input_files())


def _project_version() -> str:
    """Which version of the dbt project's files this is: every file's name, size and mtime."""
    import hashlib

    stats = sorted((name, st.st_size, st.st_mtime_ns) for name, st in _input_files())
    return hashlib.sha256(repr(stats).encode()).hexdigest()[:16]


def ensure_manifest() -> Path:
    """Parse the dbt project when its manifest is missing or older than any model, macro or seed.

    Several processes may do it at once (the webserver and a run, test workers, Celery workers):
    each parses into a folder of its own and moves the manifest into place in one rename, so no
    process ever reads a manifest another one is still writing."""
    manifest = dbt_project.manifest_path
    if manifest.exists() and manifest.stat().st_mtime >= _newest_input_mtime():
        return manifest
    import tempfile

    env = {**os.environ, **get_settings().dbt_env(), "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="parse-", dir=manifest.parent) as own:
        proc = subprocess.run(
            [DBT_EXECUTABLE, "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR), "--target-path", own],
            env=env, capture_output=True, text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"dbt parse failed in {DBT_PROJECT_DIR}:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
        os.replace(Path(own) / "manifest.json", manifest)
    return manifest


@functools.cache
def dbt_manifest() -> dict[str, Any]:
    """The parsed manifest, read once per process (2 MB of JSON: the dbt steps, the gate steps and the owners need it)."""
    return json.loads(ensure_manifest().read_text())


def dbt_group_owner(group: str) -> str:
    """The owner's email of a dbt group (dbt_project/models/_groups.yml): who answers for its assets."""
    groups = dbt_manifest()["groups"].values()
    return next(g["owner"]["email"] for g in groups if g["name"] == group)


class KpiDbtTranslator(DagsterDbtTranslator):
    """Asset keys mirror warehouse layers; groups are the source system (staging) or the domain (marts)."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        kind = dbt_resource_props["resource_type"]
        if kind == "source":
            return super().get_asset_key(dbt_resource_props)  # meta.dagster.asset_key = raw/<export>
        if kind == "seed":
            return dg.AssetKey(["seeds", dbt_resource_props["name"]])
        if dbt_resource_props.get("schema") == "sop":  # SOP gate views (models/sop_gates): sop/<view>
            return dg.AssetKey(["sop", dbt_resource_props["name"]])
        layer = dbt_resource_props["fqn"][1]  # [project, layer, folder, ..., model]
        return dg.AssetKey([layer, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        explicit = super().get_group_name(dbt_resource_props)
        if explicit:
            return explicit
        fqn = dbt_resource_props["fqn"]
        return fqn[2] if len(fqn) > 3 else "reference"

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        # The dbt docs' words only: dagster-dbt appends the raw SQL, which buries them on the asset
        # page (the SQL is one click away, through the code reference). A model without a yml
        # description (the SOP gate views) is described by the comment its SQL starts with.
        own = dbt_resource_props.get("description") or leading_comment(dbt_resource_props.get("raw_code") or "")
        return own or super().get_description(dbt_resource_props)

    def get_metadata(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, Any]:
        # "Open in editor" on a dbt asset opens its SQL file. Not dagster-dbt's enable_code_references:
        # it needs the DbtProject on every event, and the gated step's dbt invocations have none.
        metadata = super().get_metadata(dbt_resource_props)
        path = dbt_resource_props.get("original_file_path")
        if not path or dbt_resource_props["resource_type"] == "source":
            return metadata
        with warnings.catch_warnings():  # the classes are beta: one warning per model would bury the log
            warnings.simplefilter("ignore", dg.BetaWarning)
            ref = dg.CodeReferencesMetadataValue(code_references=[dg.LocalFileCodeReference(file_path=str(DBT_PROJECT_DIR / path))])
        return {**metadata, "dagster/code_references": ref}

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):
        # The UI shows the rule of every dbt test, not only its generated name, and what a failure does
        # (pipelines/dbt_checks.py); a test's own meta.description is its rule there.
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None:
            return spec
        return dg.AssetCheckSpec(
            name=spec.name, asset=spec.asset_key, additional_deps=spec.additional_deps, blocking=spec.blocking,
            metadata=spec.metadata, automation_condition=spec.automation_condition, partitions_def=spec.partitions_def,
            description=describe_dbt_test(manifest["nodes"][unique_id], manifest, DBT_PROJECT_DIR))


translator = KpiDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


# What every refresh passes to `dbt build`:
# - dbt unit tests check model logic on fixed inputs: they belong to `make test`
#   (tests/integration/test_dbt_unit_tests.py), not to every refresh, where they cost ~8 s (kpi bench);
# - dbt's log file (target/run/dbt.log) at INFO: what ran and what failed, without the debug
#   records of every query and event, whose formatting cost ~2 s per dbt process (of ~14 s).
# - --no-write-json: dbt's manifest.json and run_results.json cost ~1.7 s per dbt process;
#   dagster-dbt reads dbt's results from its event stream.
DBT_REFRESH_ARGS = ("--exclude-resource-type", "unit_test", "--log-level-file", "info", "--no-write-json")


class DbtBuildOptions(dg.ConfigurableResource):
    """How every dbt step of a run builds (Launchpad: `resources: {dbt_build: {config: {full_refresh: true}}}`)."""

    full_refresh: bool = False  # rebuild the incremental models from scratch (dbt --full-refresh), every day


WINDOW_ENV = ("KPI_WINDOW_MIN_DATE", "KPI_WINDOW_MAX_DATE")  # read by macros/incremental_window.sql


def dbt_step_environ(context: dg.AssetExecutionContext, config: DbtBuildOptions):
    """dbt's arguments for the step (`--full-refresh`, or none), and the environment its dbt
    processes need, for the step only.

    dbt reads the settings and the partition window (none: an unpartitioned run rebuilds every
    day) through env_var() (profiles.yml, dbt_project.yml, macros/incremental_window.sql);
    DbtCliResource hands this process's environment to dbt. As --vars the window would make dbt
    re-parse the whole project on every nightly run. Scoped (settings.scoped_environ), so a step's
    window never leaks into a later run of the same process."""
    window = None if config.full_refresh else run_window(context)
    window_env = dict(zip(WINDOW_ENV, (window.min_date.isoformat(), window.max_date.isoformat()) if window else ("", "")))
    if config.full_refresh:
        context.log.info("dbt: full refresh (incremental models rebuilt from scratch)")
    elif window is not None:
        context.log.info(f"dbt: incremental window {window.min_date}..{window.max_date} ({window.reason})")
    settings = get_settings()
    # A run of dbt models alone on a new checkout: without its folder DuckDB cannot create the
    # warehouse, and dbt-duckdb retries that IOException for ~4 minutes before failing.
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    # A test runs in the step that builds all the models it reads (dbt's "cautious" indirect selection;
    # dagster-dbt takes the mode from this variable): never against a model another step holds back.
    return ["--full-refresh"] if config.full_refresh else [], scoped_environ(
        {**settings.dbt_env(), **window_env, "DBT_INDIRECT_SELECTION": "cautious"})


# A fixed target path keeps dbt's partial-parse state between runs (a fresh one per
# run, dagster-dbt's default, re-parses the whole project every time).
RUN_TARGET_PATH = dbt_project.target_path / "run"

# The refresh's dbt steps, each one `dbt build` of a dbt selection.
# A step is Dagster's unit of skipping: a failed blocking check (an SOP data gate on a staging
# asset, a dbt test of severity error) skips the steps downstream of its asset, and only those.
# So each domain's intermediate models and marts are a step of their own, the staging views and
# the SOP gate views (read by the gates, which sit between) one step before them, and the
# cross-domain core (dimensions, the long KPI table, SOP compliance) one step after them.
DOMAINS = ("storefront", "customer_service", "marketing", "manufacturing", "logistics")
# The dimensions whose keys a domain's marts are tested against (relationships) are built with them.
DOMAIN_DIMENSIONS = {"storefront": ("dim_customers", "dim_products"), "marketing": ("dim_campaigns",),
                     "manufacturing": ("dim_production_lines",), "logistics": ("dim_carriers",)}
STAGING_STEP, CORE_STEP = "dbt_staging", "dbt_core"
DBT_STEPS: dict[str, tuple[str, str]] = {  # step -> (dbt --select, dbt --exclude)
    STAGING_STEP: ("resource_type:seed path:models/staging path:models/sop_gates path:models/intermediate/finance", ""),
    **{f"dbt_{d}": (" ".join([f"path:models/intermediate/{d}", f"path:models/marts/{d}", *DOMAIN_DIMENSIONS.get(d, ())]), "")
       for d in DOMAINS},
    CORE_STEP: ("path:models/intermediate/targets path:models/marts/core path:models/marts/sop",
                 " ".join(dim for dims in DOMAIN_DIMENSIONS.values() for dim in dims)),
}


def _dbt_step(name: str, select: str, exclude: str) -> dg.AssetsDefinition:
    # Not partitioned: the marts are rebuilt whole, and one event per model and day would cost more
    # than the build (docs/performance.md). A run of days still gets their window (run_window).
    @dbt_assets(manifest=dbt_manifest(), select=select, exclude=exclude, name=name, project=dbt_project, dagster_dbt_translator=translator,
                pool=DUCKDB_WRITER_POOL, op_tags={"kind": "dbt"})
    def _step(context: dg.AssetExecutionContext, dbt: DbtCliResource, dbt_build: DbtBuildOptions, sop_gates: SopGates):
        window_args, environ = dbt_step_environ(context, dbt_build)
        built: list[dg.AssetKey] = []
        keys = context.assets_def.keys_by_output_name
        with environ:
            if dbt_in_process.is_whole_step(context, whole):
                invocation = None
                events = _build_in_process(context, ["--select", select, *(["--exclude", exclude] if exclude else []),
                                                     *window_args, *DBT_REFRESH_ARGS])
            else:  # a subset: dagster-dbt computes its exact selection, for its own dbt process
                invocation = dbt.cli(["build", *window_args, *DBT_REFRESH_ARGS], context=context, target_path=RUN_TARGET_PATH)
                events = invocation.stream()
            try:
                # KPI values as metadata on the KPI marts (pipelines/kpis.py): one wrapping call.
                for event in with_kpi_metadata(events, context):
                    if isinstance(event, dg.Output):
                        built.append(keys[event.output_name])
                    yield event
            except BaseException:
                # dbt failed, or the step was stopped while dbt runs: stop dbt, or it keeps the
                # warehouse lock and every later writer (the alerts, the next run) waits on it.
                if invocation is not None:
                    stop_dbt(invocation.process)
                else:
                    events.close()
                raise
            finally:
                record_marts_built(context, built)  # also when a test failed after they were built
            views = unselected_gate_views(context.run) if name == STAGING_STEP else []
            if views:
                context.log.info(f"dbt: the gate views the selected gates validate: {', '.join(views)}")
                # not the step's outputs: materializations of assets outside the selection (context None)
                yield from _build_in_process(None, [*window_args, *DBT_REFRESH_ARGS, "--resource-type", "model",
                                                    "--select", " ".join(views)])
        if name == CORE_STEP:
            yield from after_core_step(context, built, sop_gates)

    whole = _step  # the step's definition with all its assets (in a subset run, context.assets_def is the subset)
    return _step


dbt_steps = [_dbt_step(name, select, exclude) for name, (select, exclude) in DBT_STEPS.items()]


def _build_in_process(context: dg.AssetExecutionContext | None, args: list[str]):
    """`dbt build <args>` in this process (pipelines/dbt_in_process.py), its Dagster events."""
    target = DBT_PROJECT_DIR / RUN_TARGET_PATH  # dagster-dbt's subprocess resolves it from the project folder
    manifest = dbt_in_process.parsed_manifest(target, _project_version(), tuple(get_settings().dbt_env()))
    return dbt_in_process.build(args, manifest=manifest, context=context, manifest_json=dbt_manifest(),
                                translator=translator, project=dbt_project, target_path=target)


def stop_dbt(process, grace_seconds: float = 30) -> None:
    """Interrupt a dbt process as Ctrl-C would (dbt rolls back and releases its connection), then kill it."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def dbt_resource() -> DbtCliResource:
    """dagster-dbt's resource without its per-call `dbt --version` and adapter set-up (pipelines/compat.py)."""
    from .compat import KpiDbtCliResource

    return KpiDbtCliResource(project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=DBT_EXECUTABLE)
