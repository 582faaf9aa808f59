"""`kpi run` from the shell, as the README says (no DAGSTER_HOME set), records its run in the history
`make dev` shows: the instance on the project's `.dagster/`."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from pipelines.exports.demo import generate_demo_exports
from pipelines.settings import PROJECT_ROOT


def test_a_shell_run_is_in_the_run_history_of_make_dev(tmp_path):
    generate_demo_exports(tmp_path / "landing", days=2, scale=0.05, seed=5, end_date=__import__("datetime").date(2026, 3, 31),
                          progress=None)
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env.update(KPI_LANDING_DIR=str(tmp_path / "landing"), KPI_WAREHOUSE_PATH=str(tmp_path / "warehouse" / "kpi.duckdb"),
               KPI_SERVING_PATH=str(tmp_path / "serving" / "kpi.duckdb"), KPI_SOP_DOCS_DIR=str(tmp_path / "sop_docs"),
               KPI_RAW_ZONE="off")
    # `make dev`'s DAGSTER_HOME (Makefile: DAGSTER_HOME ?= $(CURDIR)/.dagster)
    make = subprocess.run(["make", "-s", "-C", str(PROJECT_ROOT), "--eval", "print-home: ; @echo $(DAGSTER_HOME)", "print-home"],
                          env=env, capture_output=True, text=True, check=True)
    home = Path(make.stdout.strip())
    assert home == PROJECT_ROOT / ".dagster"
    home.mkdir(exist_ok=True)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        before = {r.run_id for r in instance.get_runs()}
    kpi = str(Path(sys.executable).with_name("kpi"))
    proc = subprocess.run([kpi, "run"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        new = [r for r in instance.get_runs() if r.run_id not in before]
        try:
            assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
            # dbt ran in this process (its manifest and adapters hold multiprocessing locks): `kpi` releases
            # them before it ends with os._exit, or Python's resource tracker warns of leaked semaphores
            assert "leaked semaphore" not in proc.stderr, proc.stderr[-3000:]
            assert [r.job_name for r in new] == ["refresh_all"], new
            assert new[0].status == dg.DagsterRunStatus.SUCCESS
            # the instance the UI shows has the project's config: the one-writer pool
            assert (home / "dagster.yaml").read_text() == (PROJECT_ROOT / "config" / "dagster.yaml").read_text()
        finally:  # leave the project's run history as it was
            for r in new:
                instance.delete_run(r.run_id)
