"""The dbt build with its SOP gates: data gates stop what is downstream of broken data, the rest is built.

Dagster skips a whole step when a blocking check upstream of it fails, and a dbt build is one
step: one failing gate would stop every domain. So the gates run inside the dbt step, between
two dbt invocations, and dbt is told to build around what they blocked:

  0. intake gates on raw/* (SOP-DATA-01: keys, types, timestamps, columns of each export)
  A. dbt build: seeds, staging views and the SOP gate views (schema sop), without the models
     downstream of an export whose intake gate failed
  G. data gates (block) on staging assets and gate views, then process gates (warn) whose input
     is not downstream of a failed data gate; results written to ops.sop_check_results. A data
     gate that GX lets pass thanks to its tolerance (`mostly`) while some rows broke it
     quarantines those rows (ops.sop_quarantine, replaced per gate on every evaluation): the
     models reading the gated asset leave them out (dbt macro not_quarantined); the check passes
     with severity WARN and the run goes on.
  B. dbt build: everything else selected (intermediate models, KPI marts, SOP compliance, the
     long KPI table) except the models held back: downstream of a failed data gate, a failed dbt
     test of severity error or a model that failed in A.
  Then the refresh log and the SOP site (GX Data Docs + SOP pages) are written.

One domain's bad data holds back that domain only. A held model is not rebuilt: its table keeps
its last good version. A model tagged `reads_last_good` in dbt (fct_kpi_daily) is built although
an input is held, as long as it reads that input's table (never a view, nor the model a failed
test judged): it reads the last good rows, which ops.kpi_mart_state (written before B) marks
stale with the gate and the reason.

Data gates are blocking checks: Dagster fails the step after it has yielded everything, so the
run shows the failed gates, the domains that were built and, by their absence, the models held
back; publish (downstream of the step) does not run in it. Job `publish_kpis` publishes the long
table in a run of its own (pipelines/automation.py: `kpi run` and the sensor launch it).
"""
from __future__ import annotations

import datetime as dt
import logging
import signal
import subprocess
import time
from contextlib import contextmanager
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from ..ops_tables import MART_STATE, QUARANTINE, REFRESH_LOG, RESULTS
from .checks import asset_key, breach, check_result
from .registry import GateTarget, Registry

log = logging.getLogger(__name__)

OPS_RESULTS_KEY = dg.AssetKey(["ops", "sop_check_results"])
OPS_REFRESH_KEY = dg.AssetKey(["ops", "sop_refresh_log"])
OPS_MART_STATE_KEY = dg.AssetKey(["ops", "kpi_mart_state"])
OPS_QUARANTINE_KEY = dg.AssetKey(["ops", "sop_quarantine"])
UNIQUE_ID = "dagster_dbt/unique_id"


def ops_specs() -> list[dg.AssetSpec]:
    """The gate results and the quarantine, assets of the dbt step (dbt reads them as source `ops`)."""
    return [
        dg.AssetSpec(OPS_RESULTS_KEY, group_name="sop", kinds={"duckdb", "great_expectations"},
                     description="One row per expectation of an SOP gate evaluated in a run (GX results): "
                                 "feeds marts.fct_sop_compliance_daily.",
                     metadata={"dagster/table_name": RESULTS}),
        dg.AssetSpec(OPS_QUARANTINE_KEY, group_name="sop", kinds={"duckdb", "great_expectations"},
                     description="Rows a data gate let through below its tolerance (GX `mostly`), by the gate's keys, "
                                 "with SOP, gate, expectation and reason: the models reading the gated asset leave "
                                 "them out (dbt macro not_quarantined). Each evaluation of a gate replaces its rows.",
                     metadata={"dagster/table_name": QUARANTINE}),
    ]


def refresh_log_spec() -> dg.AssetSpec:
    """The refresh log is written at the very end of the dbt step, after the gate view that reads
    it (SOP-MK-02's refresh interval) was built: an external asset, reported by the step."""
    return dg.AssetSpec(OPS_REFRESH_KEY, group_name="sop", kinds={"duckdb"},
                        description="One row per refresh: models built, KPI marts built, models blocked and by what. "
                                    "Written by the dbt step at its end.",
                        metadata={"dagster/table_name": REFRESH_LOG})


def mart_state_spec() -> dg.AssetSpec:
    """Which KPI marts are fresh and which a failed data gate holds back: written by the dbt step
    before and after the marts are built, read by fct_kpi_daily (stale marks) and the snapshot."""
    return dg.AssetSpec(OPS_MART_STATE_KEY, group_name="sop", kinds={"duckdb"},
                        description="One row per KPI mart: when its rows were last built and whether a failed data "
                                    "gate holds it back (gate, reason, since when). fct_kpi_daily marks a held "
                                    "mart's rows stale from it. Written by the dbt step.",
                        metadata={"dagster/table_name": MART_STATE})


# --- the dbt graph ---------------------------------------------------------------------------

@dataclass
class DbtGraph:
    """The manifest's nodes as the gating needs them: children, phases, selection names."""

    manifest: Mapping[str, Any]
    children: dict[str, set[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.children = {uid: set(kids) for uid, kids in self.manifest["child_map"].items()}

    def node(self, uid: str) -> Mapping[str, Any]:
        return self.manifest["nodes"].get(uid) or self.manifest["sources"][uid]

    def buildable(self, uid: str) -> bool:
        return uid in self.manifest["nodes"] and self.manifest["nodes"][uid]["resource_type"] in ("model", "seed", "snapshot")

    def descendants(self, roots: Iterable[str]) -> set[str]:
        seen: set[str] = set()
        todo = list(roots)
        while todo:
            for kid in self.children.get(todo.pop(), ()):
                if kid not in seen and self.buildable(kid):
                    seen.add(kid)
                    todo.append(kid)
        return seen

    def reads_last_good(self, uid: str) -> bool:
        """A model tagged reads_last_good in dbt (fct_kpi_daily) is built although an input is held
        back: it reads that input's last good table and marks those rows stale."""
        return "reads_last_good" in (self.manifest["nodes"].get(uid, {}).get("tags") or ())

    def keeps_last_good(self, uid: str) -> bool:
        """A held model that is a table keeps its last good version; a view shows the bad data."""
        n = self.manifest["nodes"].get(uid)
        return bool(n) and n["resource_type"] == "model" and n["config"].get("materialized") in ("table", "incremental")

    def held(self, roots: Iterable[str]) -> set[str]:
        """The models a failure at `roots` holds back: everything downstream, except a reads_last_good
        model reached only through held tables (a root itself may hold bad rows: never through it)."""
        roots = set(roots)
        seen: set[str] = set()
        todo = list(roots)
        while todo:
            uid = todo.pop()
            for kid in self.children.get(uid, ()):
                if kid in seen or not self.buildable(kid):
                    continue
                if self.reads_last_good(kid) and uid not in roots and self.keeps_last_good(uid):
                    continue
                seen.add(kid)
                todo.append(kid)
        return seen

    def ancestors(self, uids: Iterable[str]) -> set[str]:
        parents = self.manifest["parent_map"]
        seen: set[str] = set()
        todo = list(uids)
        while todo:
            for p in parents.get(todo.pop(), ()):
                if p not in seen and self.buildable(p):
                    seen.add(p)
                    todo.append(p)
        return seen

    def tests_reading(self, uids: Iterable[str]) -> set[str]:
        """The dbt tests reading any of `uids` (dbt's own indirect selection keeps a relationships test
        from a selected model into an excluded one)."""
        return {kid for uid in uids for kid in self.children.get(uid, ())
                if self.manifest["nodes"].get(kid, {}).get("resource_type") == "test"}

    def is_gate_view(self, uid: str) -> bool:
        n = self.manifest["nodes"].get(uid)
        return bool(n) and n["resource_type"] == "model" and n.get("schema") == "sop"

    def phase_a_universe(self) -> set[str]:
        """Seeds, staging views, SOP gate views and whatever they are built from: what the gates read."""
        first = {
            uid for uid, n in self.manifest["nodes"].items()
            if self.buildable(uid) and (n["resource_type"] == "seed" or n["fqn"][1] == "staging" or self.is_gate_view(uid))
        }
        return first | self.ancestors(first)

    def source_of_raw(self, key: dg.AssetKey) -> str | None:
        for uid, s in self.manifest["sources"].items():
            meta = (s.get("meta") or {}).get("dagster", {})
            if meta.get("asset_key") == list(key.path):
                return uid
        return None

    def selector(self, uid: str) -> str:
        return ".".join(self.node(uid)["fqn"])


def _stop(process, grace_seconds: float = 30) -> None:
    """Interrupt a dbt process as Ctrl-C would (dbt rolls back and releases its connection), then kill it."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- the step body ---------------------------------------------------------------------------

@dataclass
class _DbtPhase:
    name: str
    selected: set[str]
    # Held models: not built, and no test reading one runs (a relationships test from a built model
    # into a held one would read a stale table, or none on a first run).
    excluded: set[str] = field(default_factory=set)
    built: set[str] = field(default_factory=set)
    failed_tests: set[dg.AssetKey] = field(default_factory=set)
    ok: bool = True
    errors: list[str] = field(default_factory=list)


class GatedBuild:
    """Runs one dbt step with its gates; every method yields Dagster events."""

    def __init__(self, context: dg.AssetExecutionContext, dbt, *, manifest: Mapping[str, Any], translator,
                 registry: Registry, warehouse_path: Path, target_path: Path, docs_dir: Path | None,
                 dbt_args: list[str] | None = None,
                 wrap_events: Callable[[Iterable], Iterable] = lambda events: events, now: dt.datetime | None = None):
        self.context = context
        self.dbt = dbt
        self.manifest = manifest
        self.translator = translator
        self.graph = DbtGraph(manifest)
        self.registry = registry
        self.warehouse_path = Path(warehouse_path)
        self.target_path = Path(target_path)
        self.docs_dir = docs_dir
        self.dbt_args = list(dbt_args or [])  # --full-refresh, the excludes: on both phases
        self.wrap_events = wrap_events
        self.started = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        self.assets_def = context.assets_def
        self.uid_by_key: dict[dg.AssetKey, str] = {}
        for spec in self.assets_def.specs:
            uid = (spec.metadata or {}).get(UNIQUE_ID)
            if uid:
                self.uid_by_key[spec.key] = uid
        self.key_by_uid = {uid: key for key, uid in self.uid_by_key.items()}
        self.selected_keys = set(context.selected_asset_keys)
        self.selected_checks = set(context.selected_asset_check_keys)
        self.blocked_by: dict[str, str] = {}  # root uid (model or source) -> why
        self.blocking_gate: dict[str, str] = {}  # root uid -> the failed gate or test
        self.outcomes: list = []
        self.phases: list[_DbtPhase] = []
        self._runner = None
        self.seconds: dict[str, float] = {}  # where the step's time went: dbt, gates, writes, site

    @contextmanager
    def _timed(self, what: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[what] = self.seconds.get(what, 0.0) + time.perf_counter() - t0

    # -- helpers ------------------------------------------------------------------------------
    def _blocked(self) -> set[str]:
        return self.graph.held(self.blocked_by)

    def _block(self, uid: str | None, why: str, gate: str = "") -> None:
        if uid and uid not in self.blocked_by:
            self.blocked_by[uid] = why
            self.blocking_gate[uid] = gate or why
            below = sorted(self.graph.node(u)["name"] for u in self.graph.held([uid]))
            self.context.log.warning(f"{why}: holding back the {len(below)} model(s) downstream (their last good "
                                     f"version stays): {', '.join(below[:40])}" + (" ..." if len(below) > 40 else ""))

    def _targets(self) -> list[GateTarget]:
        return [t for t in self.registry.targets()
                if dg.AssetCheckKey(asset_key(t.asset), t.gate.suite) in self.selected_checks]

    def _runner_(self):
        if self._runner is None:
            from .gate_runner import GateRunner

            self._runner = GateRunner(self.warehouse_path, now=self.started)
        return self._runner

    def _release(self) -> None:
        """Close the read-only side before anyone writes (DuckDB: one writer, no readers in-process)."""
        if self._runner is not None:
            self._runner.close()

    # -- dbt ------------------------------------------------------------------------------------
    def _dbt_build(self, phase: _DbtPhase) -> Iterator:
        uids = sorted(phase.selected)
        if not uids:
            return
        self.phases.append(phase)
        self.context.log.info(f"dbt build, phase {phase.name}: {len(uids)} model(s) and seed(s)")
        # --no-write-json: dbt's manifest.json and run_results.json cost ~2 s per dbt process
        # (pyinstrument); the step reads dbt's results from its event stream instead.
        exclude = ["--exclude", " ".join(self.graph.selector(u) for u in sorted(phase.excluded))] if phase.excluded else []
        invocation = self.dbt.cli(
            ["build", *self.dbt_args, "--no-write-json", "--indirect-selection", "buildable",
             "--select", " ".join(self.graph.selector(u) for u in uids), *exclude],
            manifest=self.manifest, dagster_dbt_translator=self.translator,
            target_path=self.target_path, raise_on_error=False,
        )
        try:
            yield from self.wrap_events(self._as_step_events(self._dagster_events(invocation, phase), phase))
        except BaseException:
            # Our side failed (or the step was closed) while dbt still runs: stop it, or it keeps
            # the warehouse lock and every later writer of this run (alerts, the next run) waits on it.
            _stop(invocation.process)
            raise
        phase.ok = invocation.is_successful()
        if not phase.ok and not phase.errors and not phase.failed_tests:
            # dbt failed outside any node and no test failed (a compile or connection error): dagster-dbt's
            # error, with the error lines it collected from dbt's output
            error = invocation.get_error()
            phase.errors = [str(error)[-3000:] if error else
                            f"dbt exited with code {invocation.process.returncode} (see the dbt log in {self.target_path})"]
        for uid in uids:
            if uid not in phase.built:
                self._block(uid, f"dbt did not build {self.graph.node(uid)['name']} in phase {phase.name}")
        for key in phase.failed_tests:
            self._block(self.uid_by_key.get(key), f"a dbt test of severity error failed on {key.to_user_string()}",
                        gate="dbt test")

    def _as_step_events(self, events: Iterable, phase: _DbtPhase) -> Iterator:
        """dagster-dbt events of an invocation without context → this step's outputs and check results."""
        for ev in events:
            if isinstance(ev, dg.AssetMaterialization):
                uid = self.uid_by_key.get(ev.asset_key)
                if uid:
                    phase.built.add(uid)
                if ev.asset_key in self.selected_keys:
                    yield dg.Output(None, output_name=self.assets_def.get_output_name_for_asset_key(ev.asset_key),
                                    metadata=ev.metadata)
                else:
                    yield ev
            elif isinstance(ev, dg.AssetCheckEvaluation):
                if not ev.passed and ev.severity == dg.AssetCheckSeverity.ERROR:
                    phase.failed_tests.add(ev.asset_key)
                if ev.asset_check_key in self.selected_checks:
                    yield dg.AssetCheckResult(asset_key=ev.asset_key, check_name=ev.check_name, passed=ev.passed,
                                              severity=ev.severity, metadata=ev.metadata)
                else:
                    yield dg.AssetObservation(asset_key=ev.asset_key, metadata=ev.metadata,
                                              description=f"dbt test {ev.check_name} (not selected as a check in this run)")
            else:
                yield ev

    def _dagster_events(self, invocation, phase: _DbtPhase) -> Iterator:
        """dagster-dbt's events of each dbt event (what `invocation.stream()` yields), noting the
        nodes that ended in an error and dbt's message for each (its end-of-run summary); failed
        tests are not errors here: they are checks already."""
        errored: list[str] = []
        messages: dict[str, str] = {}
        for event in invocation.stream_raw_events():
            info, data = event.raw_event.get("info", {}), event.raw_event.get("data", {})
            node = data.get("node_info") or {}
            uid = node.get("unique_id")
            if uid and node.get("node_status") in ("error", "runtime error") and uid not in errored:
                errored.append(uid)
            if uid and info.get("name") == "RunResultError":
                messages[uid] = " ".join((data.get("msg") or "").split())
            yield from event.to_default_asset_events(
                manifest=self.manifest, dagster_dbt_translator=self.translator, context=invocation.context,
                target_path=self.target_path, project=invocation.project)
        phase.errors += [f"{uid}: error {messages.get(uid, '')[:300]}".rstrip() for uid in errored]

    def _ensure_ops_tables(self) -> None:
        from .results import ops_tables_exist

        if not ops_tables_exist(self.warehouse_path):
            self.dbt.cli(["run-operation", "create_sop_ops_tables"], target_path=self.target_path).wait()

    # -- gates ------------------------------------------------------------------------------------
    def _evaluate(self, targets: list[GateTarget], windows: dict) -> Iterator:
        if not targets:
            return
        runner = self._runner_()
        for target in targets:
            outcome = runner.evaluate_one(target, windows.get((target.gate.suite, target.asset)))
            self.outcomes.append(outcome)
            sop = self.registry.sop(target.gate.sop_id)
            yield check_result(outcome, sop)
            if target.gate.is_data_gate and not outcome.passed:
                key = asset_key(target.asset)
                root = self.uid_by_key.get(key) or self.graph.source_of_raw(key)
                self._block(root, f"data gate {target.gate.suite} ({sop.id}) failed on {target.asset}: {breach(outcome)}",
                            gate=target.gate.suite)

    def _timed_events(self, what: str, events: Iterable) -> Iterator:
        """Time a generator's own work, not the consumer's between its events."""
        it = iter(events)
        while True:
            t0 = time.perf_counter()
            try:
                ev = next(it)
            except StopIteration:
                self.seconds[what] = self.seconds.get(what, 0.0) + time.perf_counter() - t0
                return
            self.seconds[what] = self.seconds.get(what, 0.0) + time.perf_counter() - t0
            yield ev

    def _relation_uid(self, target: GateTarget) -> str | None:
        if target.export:
            return None
        schema, name = (target.gate.validates or target.relation).split(".")
        return self.uid_by_key.get(dg.AssetKey([schema, name]))

    def _not_evaluable(self, target: GateTarget, blocked: set[str]) -> str | None:
        for uid in (self.uid_by_key.get(asset_key(target.asset)), self._relation_uid(target)):
            if uid and (uid in blocked or uid in self.blocked_by):
                return self.graph.node(uid)["name"]
        return None

    def _kpi_mart_uids(self, uids: set[str]) -> set[str]:
        """The KPI marts (var kpi_marts, without the long table that reads them) among `uids`."""
        from ..kpis import LONG_TABLE, kpi_marts

        names = set(kpi_marts()) - {LONG_TABLE}
        return {u for u in uids if self.graph.node(u)["name"] in names}

    def _held_marts(self, marts: set[str]) -> dict[str, tuple[str, str]]:
        """mart name -> (gate, reason) of the first failure that holds it back."""
        held: dict[str, tuple[str, str]] = {}
        for root, why in self.blocked_by.items():
            for uid in sorted(marts & self.graph.held([root])):
                held.setdefault(self.graph.node(uid)["name"], (self.blocking_gate[root], why))
        return held

    # -- the whole step -----------------------------------------------------------------------------
    def run(self) -> Iterator:
        try:
            yield from self._run()
        finally:
            self._release()  # never leave the warehouse attached: the next writer would wait for it

    def _run(self) -> Iterator:
        from .results import (watermarks, write_mart_holds, write_marts_built, write_quarantine,
                              write_refresh, write_results)

        windows = watermarks(self.warehouse_path)
        targets = self._targets()
        selected_uids = {self.uid_by_key[k] for k in self.selected_keys if k in self.uid_by_key}
        universe_a = self.graph.phase_a_universe()

        # 0: intake gates on the raw exports
        raw = [t for t in targets if t.asset.startswith("raw/")]
        yield from self._timed_events("gates", self._evaluate(raw, windows))
        self._release()

        # A: staging and gate views. A selected gate is built with the view it validates, even when a
        # run selected only part of the graph (a view is cheap; a gate without its input is no gate).
        views = {uid for t in targets if (uid := self._relation_uid(t)) and uid not in selected_uids}
        needed = (views | self.graph.ancestors(views)) & universe_a
        phase_a = ((selected_uids & universe_a) | needed) - self._blocked()
        yield from self._timed_events("dbt", self._dbt_build(_DbtPhase("A (staging, SOP gate views)", phase_a)))

        # G: data gates first, then the process gates whose input is not downstream of a failed one
        later = [t for t in targets if not t.asset.startswith("raw/")]
        for severity in ("block", "warn"):
            blocked = self._blocked()
            runnable = []
            for t in (t for t in later if t.gate.severity == severity):
                why = self._not_evaluable(t, blocked)
                if why:
                    self.context.log.warning(f"gate {t.label} not evaluated: its input {why} was not built in this run")
                else:
                    runnable.append(t)
            yield from self._timed_events("gates", self._evaluate(runnable, windows))
        with self._timed("gates"):
            self._release()
        if self.outcomes:
            with self._timed("writes"):
                self._ensure_ops_tables()
                written = write_results(self.warehouse_path, self.context.run.run_id, self.outcomes, self.started)
                quarantined = write_quarantine(self.warehouse_path, self.context.run.run_id, self.outcomes, self.started)
            if quarantined:
                self.context.log.warning(f"{quarantined} row(s) quarantined below a data gate's tolerance, left out "
                                         f"of the KPIs: see {QUARANTINE}")
            if OPS_QUARANTINE_KEY in self.selected_keys:
                yield dg.Output(None, output_name=self.assets_def.get_output_name_for_asset_key(OPS_QUARANTINE_KEY),
                                metadata={"rows_quarantined": quarantined, "gates_quarantining": dg.MetadataValue.json(
                                    sorted({o.target.label for o in self.outcomes if o.quarantined}))})
            if OPS_RESULTS_KEY in self.selected_keys:
                failed = [o for o in self.outcomes if not o.passed]
                yield dg.Output(None, output_name=self.assets_def.get_output_name_for_asset_key(OPS_RESULTS_KEY), metadata={
                    "rows_written": written, "gates_evaluated": len(self.outcomes), "gates_failed": len(failed),
                    "data_gates_failed": sum(o.target.gate.is_data_gate for o in failed)})

        # B: everything else that is not held back by a failed gate or test; the long KPI table
        # reads a held mart's last good rows, marked stale (ops.kpi_mart_state)
        blocked = self._blocked()
        rest = selected_uids - universe_a
        phase_b = _DbtPhase("B (intermediate, marts, SOP compliance)", rest - blocked,
                            excluded=blocked | self.graph.tests_reading(blocked))
        kpi_marts = self._kpi_mart_uids(rest)
        if kpi_marts:
            with self._timed("writes"):
                self._ensure_ops_tables()
                write_mart_holds(self.warehouse_path, run_id=self.context.run.run_id, started_at=self.started,
                                 held=self._held_marts(kpi_marts & blocked),
                                 fresh=sorted(self.graph.node(u)["name"] for u in kpi_marts & phase_b.selected))
        yield from self._timed_events("dbt", self._dbt_build(phase_b))
        if kpi_marts & phase_b.built:
            with self._timed("writes"):
                write_marts_built(self.warehouse_path, run_id=self.context.run.run_id, started_at=self.started,
                                  built=sorted(self.graph.node(u)["name"] for u in kpi_marts & phase_b.built))

        # the refresh log, the SOP site
        marts = [u for u in phase_b.built if self.graph.node(u)["fqn"][1] == "marts" and self.graph.node(u)["name"].startswith("fct_")
                 and self.graph.node(u)["name"] != "fct_sop_compliance_daily"]
        not_built = (rest & blocked) | {u for p in self.phases for u in p.selected - p.built}
        if self.phases:  # a refresh that ran dbt
            with self._timed("writes"):
                self._ensure_ops_tables()
                write_refresh(self.warehouse_path, run_id=self.context.run.run_id, started_at=self.started,
                              finished_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
                              models_built=sum(len(p.built) for p in self.phases), marts_built=len(marts),
                              models_blocked=len(not_built), blocked_by=sorted(set(self.blocked_by.values())))
            yield dg.AssetMaterialization(asset_key=OPS_REFRESH_KEY, metadata={
                "models_built": sum(len(p.built) for p in self.phases), "kpi_marts_built": len(marts),
                "models_blocked": len(not_built),
                "blocked": dg.MetadataValue.json(sorted(self.graph.node(u)["name"] for u in not_built)),
                "blocked_by": dg.MetadataValue.json(sorted(set(self.blocked_by.values()))),
                **{f"seconds_{k}": round(v, 2) for k, v in self.seconds.items()}})
        if self.docs_dir is not None and (self.outcomes or marts):
            t0 = time.perf_counter()
            try:
                from .docs import build_site

                index = build_site(self.docs_dir, registry=self.registry, warehouse_path=self.warehouse_path,
                                   runner=self._runner, outcomes=self.outcomes, run_id=self.context.run.run_id)
                self.context.log.info(f"SOP site: {index}")
            except Exception as exc:  # the site is for readers; never fail the refresh over it
                self.context.log.warning(f"SOP site not built: {exc!r}")
            self.seconds["site"] = time.perf_counter() - t0
        self.context.log.info("dbt step time: " + ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items()))
        errors = [e for p in self.phases for e in p.errors]
        if errors:
            raise RuntimeError("dbt build failed:\n" + "\n".join(errors[:30]))
