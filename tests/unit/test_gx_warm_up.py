"""Great Expectations is imported in the background while the exports load (pipelines/sop/gate_runner.py).

In a fresh interpreter: importing the project does not import GX; the warm-up does, once, and
the gates' context waits for it instead of importing GX a second time alongside it."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import json, sys, threading
    from pipelines.sop import gate_runner as runner
    before = "great_expectations" in sys.modules
    runner.warm_up_in_background()
    first = runner._warm_up
    runner.warm_up_in_background()  # a second raw step: no second thread
    ctx = runner.GateRunner._quiet_context()  # waits for the warm-up
    print(json.dumps({"before": before, "same_thread": runner._warm_up is first,
                      "alive_after_context": first.is_alive(), "after": "great_expectations" in sys.modules,
                      "context": type(ctx).__name__}))
""")


def test_gx_is_imported_once_in_the_background_and_the_gates_wait_for_it():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"before": False, "same_thread": True, "alive_after_context": False, "after": True,
                    "context": "EphemeralDataContext"}


# Which modules a thread imports for the first time. find_spec runs only for a module not yet in
# sys.modules, so each name is one first import, by the thread that did it.
RECORD = textwrap.dedent("""
    import importlib.abc, json, sys, threading
    first = {}
    class Record(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            first.setdefault(threading.current_thread().name, set()).add(name)
    import pipelines.ingest  # what a raw step's process holds when the step starts
    sys.meta_path.insert(0, Record())
""")
GX_THREAD = RECORD + textwrap.dedent("""
    from pipelines.sop import gate_runner as runner
    runner.warm_up_in_background()
    runner._warm_up.join()
    print(json.dumps(sorted(n for n in first.get("gx-warm-up", ()) if n in sys.modules)))
""")
DAGSTER_STEP = RECORD + textwrap.dedent("""
    import dagster as dg
    with dg.instance_for_test() as instance:  # SQLite run and event storage, as a `kpi run` step has
        dg.materialize([dg.asset(lambda: 1, name="a")], instance=instance)
    print(json.dumps(sorted(n for n in first.get("MainThread", ()) if n in sys.modules)))
""")


def _first_imports(script: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_the_warm_up_thread_imports_nothing_a_dagster_step_imports_itself():
    """The race (issue #16, point 6): GX's import in the background thread and Dagster's own
    import of SQLAlchemy in the step, at the same time, left a module half-initialised. It needs a
    module both threads import; the warm-up imports those first, in the calling thread. Without
    that, sqlalchemy.* (and tqdm, attr, ...) are in both sets and this fails."""
    shared = _first_imports(GX_THREAD) & _first_imports(DAGSTER_STEP)
    assert not shared, f"imported by both the GX warm-up thread and a Dagster step: {sorted(shared)[:20]}"


def test_the_warm_up_thread_never_swaps_the_logger_class_under_a_running_step():
    """pyspark (which GX imports when installed) sets logging's logger class for a moment while it
    creates its loggers; a Dagster step creating its own logger in that moment got a PySparkLogger and
    died. The warm-up thread imports no module that calls setLoggerClass (or pyspark's getLogger)."""
    import importlib.util

    swapping = []
    for name in _first_imports(GX_THREAD):
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec else None
        if origin and origin.endswith(".py") and name != "pyspark.logger.logger":
            text = open(origin, encoding="utf-8", errors="replace").read()
            if "setLoggerClass(" in text or "PySparkLogger.getLogger(" in text:
                swapping.append(name)
    assert not swapping, f"imported by the GX warm-up thread, each swaps the logger class: {swapping}"
