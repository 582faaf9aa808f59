"""SIGKILL real runs in the middle of ingest, of dbt and of publish: nothing is lost, BI keeps reading
the previous snapshot, and the next run brings the warehouse to exactly what a clean run gives.

The clean run is the session's published demo (tests/conftest.py). The killed runs are real
processes on a copy of its landing folder and serving file and an empty warehouse, with a
DAGSTER_HOME that has the project's instance config (the `duckdb_writer` pool of one slot), as
`make demo` runs it: the ingest job (the raw assets), then `kpi run` twice (dbt runs as its child).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.exports import EXPORTS
from pipelines.ingest import PAUSE_ENV
from pipelines.settings import PROJECT_ROOT, Settings
from pipelines.warehouse import connect

KPI = str(Path(sys.executable).with_name("kpi"))


def raw_state(warehouse: Path) -> dict[str, list]:
    """Every raw table (without the load time), the load log and the rejects, in a comparable form."""
    with connect(warehouse, read_only=True) as con:
        have = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'").fetchall()}

        def rows(table: str, cols: str) -> list:  # an export whose load never started has no table yet
            return con.execute(f"SELECT {cols} FROM raw.{table} ORDER BY ALL").fetchall() if table in have else []

        state = {e.name: rows(e.name, ", ".join(e.column_names + ["_source_file", "_file_checksum"])) for e in EXPORTS}
        state["raw._load_log"] = rows("_load_log", "export, source_file, file_checksum, rows_loaded, rows_rejected")
        state["raw._rejects"] = rows("_rejects", "export, source_file, line, column_name, error")
    return state


def marts_state(warehouse: Path, *, exclude: tuple[str, ...] = ()) -> dict[str, list]:
    """Every table of the marts schema, row for row."""
    with connect(warehouse, read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' AND table_type = 'BASE TABLE' "
            "ORDER BY 1").fetchall() if r[0] not in exclude]
        return {t: con.execute(f"SELECT * FROM marts.{t} ORDER BY ALL").fetchall() for t in tables}


def serving_snapshot(serving: Path) -> tuple[str, dict[str, int]]:
    """The snapshot id of the serving file and its row counts: it must open and read completely."""
    with connect(serving, read_only=True) as con:
        snapshot = con.execute("SELECT snapshot_id FROM ops.publish_info").fetchone()[0]
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for (t,) in con.execute("SELECT table_name FROM ops.published_tables").fetchall()}
        published = dict(con.execute("SELECT table_name, row_count FROM ops.published_tables").fetchall())
    assert counts == published, "the serving file is not complete"
    return snapshot, counts


# The ingest half of a run as its own Dagster job (the raw assets, on the pooled instance, tagged like
# `kpi run`): a real process killed mid-ingest without paying for loading the dbt and SOP definitions.
INGEST_JOB = """
import dagster as dg
from pipelines.ingest import raw_assets
from pipelines.warehouse import process_tags
dg.materialize(raw_assets, instance=dg.DagsterInstance.get(), tags=process_tags())
"""


class Run:
    """A run in its own process group (dbt runs as its child): killed as a whole, like a crash."""

    def __init__(self, env: dict[str, str], out: Path, command: list[str] | None = None):
        self.out = out
        self.proc = subprocess.Popen(command or [KPI, "run"], env=env, stdout=open(out, "w"), stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=PROJECT_ROOT)

    def wait_for(self, condition, what: str, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.proc.poll() is not None:
                pytest.fail(f"the run ended before {what}:\n{self.out.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"no {what} within {timeout}s:\n{self.out.read_text()[-3000:]}")
            time.sleep(0.02)

    def children_named(self, name: bytes) -> list[int]:
        found = []
        for stat in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                pid = int(stat.parent.name)
                if pid != self.proc.pid and os.getpgid(pid) == self.proc.pid and name in stat.read_bytes():
                    found.append(pid)
            except (OSError, ValueError):
                continue
        return found

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        deadline = time.monotonic() + 10
        while self.children_named(b"") and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.fixture
def crash_site(published_demo, tmp_path) -> dict:
    """The demo's exports and serving file, an empty warehouse, an instance with the project's pool config."""
    shutil.copytree(published_demo.landing_dir, tmp_path / "landing")
    shutil.copytree(published_demo.serving_path.parent, tmp_path / "serving")
    for stale in (tmp_path / "serving").glob("*.tmp-*"):
        stale.unlink()
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "config" / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KPI_", "DAGSTER_"))}
    env.update({
        "KPI_LANDING_DIR": str(tmp_path / "landing"),
        "KPI_WAREHOUSE_PATH": str(tmp_path / "warehouse" / "kpi.duckdb"),
        "KPI_SERVING_PATH": str(tmp_path / "serving" / "kpi.duckdb"),
        "KPI_BUSINESS_TIMEZONE": published_demo.business_timezone,
        "KPI_BASE_CURRENCY": published_demo.base_currency,
        "KPI_TARGETS": published_demo.targets,
        "DAGSTER_HOME": str(home),
        "PYTHONUNBUFFERED": "1",
    })
    return {"root": tmp_path, "env": env, "warehouse": tmp_path / "warehouse" / "kpi.duckdb",
            "serving": tmp_path / "serving" / "kpi.duckdb"}


def test_sigkill_mid_ingest_mid_dbt_mid_publish_then_the_next_run_completes(published_demo, crash_site, monkeypatch):
    root, env, wh, serving = crash_site["root"], crash_site["env"], crash_site["warehouse"], crash_site["serving"]
    clean_raw = raw_state(published_demo.warehouse_path)
    clean_marts = marts_state(published_demo.warehouse_path)
    previous_snapshot = serving_snapshot(serving)
    assert clean_marts and all(clean_raw[e.name] for e in EXPORTS)

    t0 = time.monotonic()
    # 1. Killed inside the transaction that loads `orders`, after other exports committed.
    marker = root / "paused_in_orders_transaction"
    run = Run({**env, PAUSE_ENV: f"orders:{marker}"}, root / "run1.out", [sys.executable, "-c", INGEST_JOB])
    run.wait_for(marker.exists, "ingest pausing inside the orders transaction")
    run.kill()
    print(f"ingest kill: {time.monotonic() - t0:.0f}s")
    after_ingest_crash = raw_state(wh)
    assert after_ingest_crash["orders"] == [] and not [r for r in after_ingest_crash["raw._load_log"] if r[0] == "orders"]
    loaded = [e.name for e in EXPORTS if after_ingest_crash[e.name]]
    assert loaded, "other exports committed before the kill"
    for e in EXPORTS:  # each export is either completely loaded or not at all
        assert after_ingest_crash[e.name] in ([], clean_raw[e.name]), e.name
        log = [r for r in after_ingest_crash["raw._load_log"] if r[0] == e.name]
        assert log == ([r for r in clean_raw["raw._load_log"] if r[0] == e.name] if after_ingest_crash[e.name] else []), e.name
    assert serving_snapshot(serving) == previous_snapshot, "BI keeps reading the previous snapshot"

    # 2. The next run (which must first free the writer slot the killed run still holds): killed while dbt builds.
    run = Run(env, root / "run2.out")

    def dbt_is_building() -> bool:  # dbt runs in the run's process: its lines go to the run's log
        log = (wh.parent / "last_run.log").read_text() if (wh.parent / "last_run.log").exists() else ""
        return "OK created sql table model" in log

    run.wait_for(dbt_is_building, "dbt building models")
    run.kill()
    print(f"dbt kill: {time.monotonic() - t0:.0f}s")
    assert "died with its process" in (root / "run2.out").read_text(), "run 2 freed the slot of the killed run 1"
    assert raw_state(wh) == clean_raw, "the ingest crash is recovered: every raw table equals a clean run's"
    assert marts_state(wh) != clean_marts, "dbt was killed before it finished"
    assert serving_snapshot(serving) == previous_snapshot

    # 3. The next run completes dbt and is killed while publishing. A padding table in marts makes the
    # copy into the new serving file last long enough to be killed in the middle of it.
    with connect(wh) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS marts")
        con.execute("CREATE TABLE marts.zz_crash_padding AS SELECT range AS i, md5(CAST(range AS VARCHAR)) AS h "
                    "FROM range(3000000)")
    run = Run(env, root / "run3.out")
    run.wait_for(lambda: any(p.stat().st_size > 0 for p in serving.parent.glob(f"{serving.name}.tmp-*")), "publish writing")
    run.kill()
    print(f"publish kill: {time.monotonic() - t0:.0f}s")
    assert list(serving.parent.glob(f"{serving.name}.tmp-*")), "the half-written file is the temp file"
    assert serving_snapshot(serving) == previous_snapshot, "the previous serving file is intact and readable"
    assert raw_state(wh) == clean_raw
    assert marts_state(wh, exclude=("zz_crash_padding",)) == clean_marts, "the marts equal a clean run's, row for row"

    # 4. The next publish completes and serves exactly the warehouse's marts.
    from pipelines.serving import publish

    with connect(wh) as con:
        con.execute("DROP TABLE marts.zz_crash_padding")
    for k, v in env.items():
        if k.startswith("KPI_"):
            monkeypatch.setenv(k, v)
    result = publish(Settings.from_env())
    assert not list(serving.parent.glob(f"{serving.name}.tmp-*")), "the next publish removes the leftover"
    snapshot, counts = serving_snapshot(serving)
    assert snapshot == result.snapshot_id != previous_snapshot[0]
    print(f"crash scenario: {time.monotonic() - t0:.0f}s")
    assert {t.split(".", 1)[1]: n for t, n in counts.items() if t.startswith("marts.")} == {
        t: len(rows) for t, rows in clean_marts.items()}
