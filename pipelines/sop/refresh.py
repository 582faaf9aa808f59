"""The SOP gates in the refresh, in Dagster's own terms.

Every gate of the SOP registry is a Dagster asset check on the asset it validates, evaluated by
Great Expectations once the dbt step that builds the asset (and the gate view it validates) is done:

- a data gate (severity block) is a blocking check: when it fails, Dagster skips every step
  downstream of its step in that run, and only those. The dbt steps are split so that this holds
  back one domain (pipelines/transform.py DBT_STEPS); the held domain's marts keep their last good
  rows, which `ops.kpi_mart_state` marks held with the gate and the reason;
- a data gate that Great Expectations lets pass thanks to its tolerance (`mostly`) while some rows
  broke it quarantines those rows (ops.sop_quarantine, replaced per gate on every evaluation): the
  models reading the asset leave them out (dbt macro not_quarantined), the check warns;
- a process gate (severity warn) reports with WARN severity and never blocks; it waits for the data
  gates of the staging models its view reads, and is skipped with them;
- the intake gate of an export (SOP-DATA-01) validates the raw table through its contract and sits
  on the export's staging model: on `raw/*` it would hold back the staging step, shared by every
  domain.

A step is Dagster's unit of skipping, and each step costs a little, so checks share a step exactly
when skipping it skips the same steps (gate_steps): the data gates of the staging models that feed
the same domains (`data_gates__<domains>`), the process gates that wait on the same data gates
(`process_gates__<sops>`).

Every result is written to ops.sop_check_results (fct_sop_compliance_daily). The cross-domain core
step (dbt_core), downstream of every domain, is skipped with a held domain: job `publish_kpis`
builds it and publishes in a run of its own (pipelines/automation.py), from the held marts' last
good rows, marked stale in fct_kpi_daily.
"""
import datetime as dt
import functools
from collections.abc import Iterable, Iterator

import dagster as dg
from pydantic import PrivateAttr

from ..ops_tables import MART_STATE, QUARANTINE, REFRESH_LOG, RESULTS
from ..settings import get_settings
from .checks import breach, check_asset_key, check_result, check_spec
from .registry import GateTarget, registry

OPS_RESULTS_KEY = dg.AssetKey(["ops", "sop_check_results"])
OPS_REFRESH_KEY = dg.AssetKey(["ops", "sop_refresh_log"])
OPS_MART_STATE_KEY = dg.AssetKey(["ops", "kpi_mart_state"])
OPS_QUARANTINE_KEY = dg.AssetKey(["ops", "sop_quarantine"])


def ops_specs() -> list[dg.AssetSpec]:
    """The tables the gates and the dbt steps write (dbt reads them as source `ops`)."""
    return [
        dg.AssetSpec(OPS_RESULTS_KEY, group_name="sop", kinds={"duckdb", "great_expectations"},
                     description="One row per expectation of an SOP gate evaluated in a run (GX results), written "
                                 "by the gate steps: feeds marts.fct_sop_compliance_daily.",
                     metadata={"dagster/table_name": RESULTS}),
        dg.AssetSpec(OPS_QUARANTINE_KEY, group_name="sop", kinds={"duckdb", "great_expectations"},
                     description="Rows a data gate let through below its tolerance (GX `mostly`), by the gate's keys, "
                                 "with SOP, gate, expectation and reason: the models reading the gated asset leave "
                                 "them out (dbt macro not_quarantined). Each evaluation of a gate replaces its rows.",
                     metadata={"dagster/table_name": QUARANTINE}),
        dg.AssetSpec(OPS_REFRESH_KEY, group_name="sop", kinds={"duckdb"},
                     description="One row per refresh: models built, KPI marts built, marts held back and by what. "
                                 "Written by the core dbt step at its end.",
                     metadata={"dagster/table_name": REFRESH_LOG}),
        dg.AssetSpec(OPS_MART_STATE_KEY, group_name="sop", kinds={"duckdb"},
                     description="One row per KPI mart: when its rows were last built and whether a failed data "
                                 "gate holds it back (gate, reason, since when). Written by the gate steps (held) and "
                                 "the dbt steps (built); fct_kpi_daily marks a held mart's rows stale from it.",
                     metadata={"dagster/table_name": MART_STATE}),
    ]


class SopGates(dg.ConfigurableResource):
    """The Great Expectations runner of the gate steps: one GX context per run (its Data Docs are the
    run's), the warehouse attached read-only only while a gate step evaluates."""

    warehouse_path: str | None = None  # default: the settings' (KPI_WAREHOUSE_PATH)
    _runner = PrivateAttr(default=None)
    _data_docs = PrivateAttr(default=None)

    def path(self):
        from pathlib import Path

        return Path(self.warehouse_path) if self.warehouse_path else get_settings().warehouse_path

    def runner(self):
        if self._runner is None:
            from .gate_runner import GateRunner

            self._runner = GateRunner(self.path())
        return self._runner

    def data_docs(self, docs_dir):
        """Write the GX Data Docs of the run's gates once (the core step does, or the end of a run whose
        core step was skipped); their index, None when no gate ran in this process."""
        if self._runner is not None and self._data_docs is None:
            from .docs import write_data_docs

            self._data_docs = write_data_docs(docs_dir, self._runner)
            self._runner.close()
        return self._data_docs

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """A run whose core step was skipped (a held domain) still leaves its gates' Data Docs: the
        publish run that follows writes the SOP pages, linking them."""
        if self._runner is None:
            return
        try:
            docs_dir = get_settings().sop_docs_dir
            if docs_dir is not None:
                self.data_docs(docs_dir)
        finally:
            self._runner.close()


def gate_checks() -> list[dg.AssetChecksDefinition]:
    """One step per group of gate_steps()."""
    return [_gate_step(name, targets) for name, targets in gate_steps().items()]


def gate_steps() -> dict[str, list[GateTarget]]:
    """The gates of each gate step. A failed data gate fails its step, and Dagster skips every step
    downstream of any check of it: data gates share a step when their assets feed the same domain
    steps (named after them; `sop_views_only` when an export feeds SOP gate views alone), process
    gates when they wait on the same data gate steps (named after their SOPs)."""
    from ..transform import CORE_STEP, STAGING_STEP, dbt_steps

    step_of = {k.path[-1]: step.node_def.name for step in dbt_steps for k in step.keys}
    targets = registry().targets()
    data_step: dict[dg.AssetKey, str] = {}
    for t in targets:
        key = check_asset_key(t)
        if t.gate.is_data_gate and key not in data_step:
            domains = sorted({step_of[m] for m in dbt_descendants(key.path[-1]) if m in step_of} - {STAGING_STEP, CORE_STEP})
            data_step[key] = "data_gates__" + ("__".join(d.removeprefix("dbt_") for d in domains) or "sop_views_only")
    process: dict[tuple[str, ...], list[GateTarget]] = {}
    steps: dict[str, list[GateTarget]] = {}
    for t in targets:
        key = check_asset_key(t)
        if t.gate.is_data_gate:
            steps.setdefault(data_step[key], []).append(t)
        else:
            waits_on = tuple(sorted({data_step[i] for i in staging_inputs(key) if i in data_step}))
            process.setdefault(waits_on, []).append(t)
    for group in process.values():
        name = "process_gates__" + "__".join(sorted({t.gate.sop_id.lower().replace("-", "_") for t in group}))
        if name in steps:
            raise ValueError(f"two groups of process gates would both be step {name}: "
                             "their SOPs' gates wait on different data gates (pipelines/sop/refresh.py gate_steps)")
        steps[name] = group
    return dict(sorted(steps.items()))


def _gate_step(name: str, targets: list[GateTarget]) -> dg.AssetChecksDefinition:
    reg = registry()
    from ..ingest import DUCKDB_WRITER_POOL

    @dg.multi_asset_check(
        name=name,
        specs=[check_spec(t, reg.sop(t.gate.sop_id), reads=[] if t.gate.is_data_gate else staging_inputs(check_asset_key(t)))
               for t in targets],
        can_subset=True,
        pool=DUCKDB_WRITER_POOL,  # it writes the gate results
        op_tags={"kind": "great_expectations"},
    )
    def _gates(context: dg.AssetCheckExecutionContext, sop_gates: SopGates):
        selected = [t for t in targets if dg.AssetCheckKey(check_asset_key(t), t.gate.suite) in context.selected_asset_check_keys]
        yield from evaluate(context, sop_gates, selected)

    return _gates


def evaluate(context, sop_gates: SopGates, targets: list[GateTarget]) -> Iterator[dg.AssetCheckResult]:
    """Evaluate gates, write their results, quarantine and holds, then report them as check results."""
    from .results import record_evaluation, watermarks

    reg = registry()
    path = sop_gates.path()
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    windows = watermarks(path)
    runner = sop_gates.runner()
    try:
        outcomes = [runner.evaluate_one(t, windows.get((t.gate.suite, t.asset))) for t in targets]
    finally:
        runner.close()  # release the warehouse: the results are written next, then dbt writes
    held: dict[str, tuple[str, str]] = {}
    for o in outcomes:
        if o.target.gate.is_data_gate and not o.passed:
            sop = reg.sop(o.target.gate.sop_id)
            why = f"data gate {o.target.gate.suite} ({sop.id}) failed on {o.target.asset}: {breach(o)}"
            marts = kpi_marts_downstream(check_asset_key(o.target))
            context.log.warning(f"{why}: Dagster skips what is downstream of {check_asset_key(o.target).to_user_string()}; "
                                f"KPI marts held back at their last good rows: {', '.join(marts) or 'none'}")
            for mart in marts:
                held.setdefault(mart, (o.target.gate.suite, why))
    quarantined = record_evaluation(path, context.run.run_id, outcomes, now, held)
    if quarantined:
        context.log.warning(f"{quarantined} row(s) quarantined below a data gate's tolerance, left out of the KPIs: "
                            f"see {QUARANTINE}")
    for o in outcomes:
        yield check_result(o, reg.sop(o.target.gate.sop_id))


def unselected_gate_views(run: dg.DagsterRun) -> list[str]:
    """The SOP gate views that the run's gates validate but the run did not select (a part of the graph
    materialized from the UI): the staging step builds them too, a gate without its input is no gate."""
    from .checks import validated_asset

    if run.asset_selection is None:
        return []
    checks = run.asset_check_selection
    views = {validated_asset(t) for t in registry().targets()
             if check_asset_key(t) in run.asset_selection
             and (checks is None or dg.AssetCheckKey(check_asset_key(t), t.gate.suite) in checks)}
    return sorted(v.path[-1] for v in views if v is not None and v not in run.asset_selection)


def staging_inputs(key: dg.AssetKey) -> list[dg.AssetKey]:
    """The staging models an SOP gate view reads (dbt's parents of the view)."""
    from ..transform import dbt_manifest

    nodes = dbt_manifest()["nodes"]
    uid = _model_uids().get(key.path[-1])
    if uid is None or key.path[0] != "sop":
        return []
    return sorted(dg.AssetKey(["staging", nodes[p]["name"]]) for p in nodes[uid]["depends_on"]["nodes"]
                  if p in nodes and nodes[p]["fqn"][1] == "staging")


@functools.cache
def _model_uids() -> dict[str, str]:
    """dbt model name -> unique id, from the manifest read once per process."""
    from ..transform import dbt_manifest

    return {n["name"]: uid for uid, n in dbt_manifest()["nodes"].items() if n["resource_type"] == "model"}


def dbt_descendants(model: str) -> set[str]:
    """The names of every dbt node downstream of a model, in dbt's graph."""
    from ..transform import dbt_manifest

    manifest = dbt_manifest()
    todo, seen = [_model_uids().get(model)], set()
    while todo:
        for kid in manifest["child_map"].get(todo.pop(), ()):
            if kid not in seen:
                seen.add(kid)
                todo.append(kid)
    return {manifest["nodes"][u]["name"] for u in seen if u in manifest["nodes"]}


def kpi_marts_downstream(key: dg.AssetKey) -> list[str]:
    """The KPI marts (var kpi_marts, without the long table) downstream of a dbt asset."""
    from ..kpis import LONG_TABLE, kpi_marts

    return sorted(dbt_descendants(key.path[-1]) & (set(kpi_marts()) - {LONG_TABLE}))


# --- what the dbt steps record ---------------------------------------------------------------

def record_marts_built(context: dg.AssetExecutionContext, built: Iterable[dg.AssetKey]) -> None:
    """The KPI marts a dbt step rebuilt: fresh again (no longer held), built by this run."""
    from ..kpis import LONG_TABLE, kpi_marts
    from .results import write_marts_built

    marts = set(kpi_marts()) - {LONG_TABLE}
    names = sorted({k.path[-1] for k in built} & marts)
    if not names:
        return
    path = get_settings().warehouse_path
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    write_marts_built(path, run_id=context.run.run_id, started_at=now, built=names)


def after_core_step(context: dg.AssetExecutionContext, built: list[dg.AssetKey], sop_gates: SopGates | None) -> Iterator:
    """The refresh log and the SOP site. A publish run after a held domain (tag kpi/after_run)
    completes the refresh it follows: the row is that refresh's, counting what both runs built."""
    import time

    from ..transform import dbt_steps
    from ..warehouse import connect
    from .results import held_marts, write_refresh

    settings = get_settings()
    refresh_run = context.run.tags.get("kpi/after_run") or context.run.run_id
    models = {k for step in dbt_steps for k in step.keys if k.path[0] != "seeds"}
    built_keys = {e.dagster_event.asset_key
                  for e in context.instance.all_logs(refresh_run, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
                  if e.dagster_event.asset_key in models} | (set(built) & models)
    with connect(settings.warehouse_path, read_only=True) as con:
        holds = held_marts(con)
        fresh = con.execute(f"SELECT count(*) FROM {MART_STATE} WHERE built_run_id IN (?, ?)",
                            [refresh_run, context.run.run_id]).fetchone()[0]
    started = context.instance.get_run_stats(refresh_run).start_time
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    started_at = dt.datetime.fromtimestamp(started, dt.timezone.utc).replace(tzinfo=None) if started else now
    blocked_by = sorted({h.reason for h in holds})
    write_refresh(settings.warehouse_path, run_id=refresh_run, started_at=started_at, finished_at=now,
                  models_built=len(built_keys), marts_built=fresh, models_blocked=len(models - built_keys),
                  blocked_by=blocked_by)
    yield dg.AssetMaterialization(asset_key=OPS_REFRESH_KEY, metadata={
        "refresh_run": refresh_run, "models_built": len(built_keys), "kpi_marts_built": fresh,
        "models_not_built": dg.MetadataValue.json(sorted(k.path[-1] for k in models - built_keys)),
        "kpi_marts_held": dg.MetadataValue.json([h.mart for h in holds]),
        "blocked_by": dg.MetadataValue.json(blocked_by)})
    if settings.sop_docs_dir is not None:
        t0 = time.perf_counter()
        try:
            from .docs import build_site

            if sop_gates is not None:
                sop_gates.data_docs(settings.sop_docs_dir)  # the site links them
            index = build_site(settings.sop_docs_dir, registry=registry(), warehouse_path=settings.warehouse_path)
            context.log.info(f"SOP site: {index} ({time.perf_counter() - t0:.1f}s)")
        except Exception as exc:  # the site is for readers; never fail the refresh over it
            context.log.warning(f"SOP site not built: {exc!r}")
