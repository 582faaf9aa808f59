"""Great Expectations is imported in the background while the exports load (pipelines/sop/runner.py).

In a fresh interpreter: importing the project does not import GX; the warm-up does, once, and
the gates' context waits for it instead of importing GX a second time alongside it."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import json, sys, threading
    from pipelines.sop import runner
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
