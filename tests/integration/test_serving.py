"""Publishing the serving snapshot: complete tables, readers never see a mix, a killed publish loses nothing."""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.settings import Settings
from pipelines.warehouse import connect
from tests.conftest import DEMO_END as END
from tests.conftest import copy_of


def _tables(path: Path, schema: str) -> dict[str, int]:
    with connect(path, read_only=True) as con:
        names = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE'",
            [schema]).fetchall()]
        return {f"{schema}.{n}": con.execute(f"SELECT count(*) FROM {schema}.{n}").fetchone()[0] for n in names}


def test_publish_serves_every_mart_with_freshness(published_demo):
    served = published_demo
    marts = _tables(served.warehouse_path, "marts")
    assert marts and _tables(served.serving_path, "marts") == marts
    with connect(served.serving_path, read_only=True) as con:
        assert con.execute("SELECT storage_version FROM ops.publish_info").fetchone()[0] == "v1.1.0"
        assert dict(con.execute("SELECT table_name, row_count FROM ops.published_tables").fetchall()) == marts
        fresh = con.execute("SELECT export, files_loaded, newest_data_date FROM ops.export_freshness").fetchall()
        verdicts = {r[0]: r[1:] for r in con.execute("SELECT export, max_age_hours, on_time FROM ops.export_freshness").fetchall()}
    assert len(fresh) == 20
    # Every export was just delivered: on time, against its contract's own limit (none for reference data).
    from pipelines.exports import EXPORTS

    assert verdicts == {e.name: (e.expected_max_age_hours, True) for e in EXPORTS}
    assert [f for f in fresh if not (f[1] >= 1 and END - dt.timedelta(days=14) <= f[2] <= END)] == []
    assert max(f[2] for f in fresh) == END
    assert not list(served.serving_path.parent.glob("*.tmp-*")), "no temp file left behind"



def test_every_published_table_and_column_has_a_comment(published_demo):
    """BI tools show a table's and a column's comment as its definition: the marts' from their dbt yml
    (persist_docs, copied by publish), the ops tables' from publish (and the dbt source yml)."""
    with connect(published_demo.serving_path, read_only=True) as con:
        here = "database_name = current_database() AND NOT internal"
        tables = con.execute(f"SELECT schema_name || '.' || table_name, comment FROM duckdb_tables() WHERE {here} "
                             f"UNION ALL SELECT schema_name || '.' || view_name, comment FROM duckdb_views() WHERE {here}").fetchall()
        columns = con.execute("SELECT schema_name || '.' || table_name || '.' || column_name, comment FROM duckdb_columns() "
                              "WHERE database_name = current_database() AND NOT internal").fetchall()
    assert {"marts.kpi_weekly", "marts.kpi_monthly", "marts.fct_kpi_daily", "ops.kpi_mart_state", "ops.export_freshness",
            "ops.published_tables", "ops.publish_info"} <= {t for t, _ in tables}
    assert len(columns) > 200
    assert [t for t, comment in tables if not (comment or "").strip()] == []
    assert [c for c, comment in columns if not (comment or "").strip()] == []

READER = textwrap.dedent(
    """
    import json, os, sys, time, duckdb
    path, stop, out, mode = sys.argv[1:5]
    seen, errors, queries = [], [], 0
    def check(con):
        snap = con.execute("SELECT snapshot_id FROM ops.publish_info").fetchone()[0]
        expected = dict(con.execute("SELECT table_name, row_count FROM ops.published_tables").fetchall())
        actual = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in expected}
        if actual != expected:
            errors.append(f"mixed snapshot {snap}: {actual} != {expected}")
        return snap
    # "hold": one connection open for the whole test (a BI tool left open);
    # "reopen": a new connection per query (a dashboard refresh).
    held = duckdb.connect(path, read_only=True) if mode == "hold" else None
    while not os.path.exists(stop):
        try:
            if held is not None:
                snap = check(held)
            else:
                with duckdb.connect(path, read_only=True) as con:
                    snap = check(con)
            if not seen or seen[-1] != snap:
                seen.append(snap)
            queries += 1
        except Exception as exc:
            errors.append(repr(exc))
        time.sleep(0.02)
    json.dump({"seen": seen, "errors": errors, "queries": queries}, open(out, "w"))
    """
)


def test_readers_see_old_or_new_snapshot_never_a_mix(published_demo, tmp_path, monkeypatch):
    from pipelines.serving import publish

    served = copy_of(published_demo, tmp_path / "copy", monkeypatch)
    before = _tables(served.serving_path, "marts")
    stop = tmp_path / "stop"
    modes = ["hold", "reopen", "reopen"]
    readers = [
        subprocess.Popen([sys.executable, "-c", READER, str(served.serving_path), str(stop), str(tmp_path / f"r{i}.json"), mode])
        for i, mode in enumerate(modes)
    ]
    try:
        time.sleep(1.0)
        # The warehouse changes (its last day's KPI rows recomputed away) and the serving step publishes
        # while the readers read: the snapshot swap is what is under test, not the refresh before it.
        with connect(served.warehouse_path) as con:
            con.execute("DELETE FROM marts.fct_kpi_daily WHERE kpi_date = (SELECT max(kpi_date) FROM marts.fct_kpi_daily)")
        publish(served)
        time.sleep(1.0)
    finally:
        stop.touch()
        for r in readers:
            r.wait(timeout=60)
    reports = {f"{mode}{i}": json.loads((tmp_path / f"r{i}.json").read_text()) for i, mode in enumerate(modes)}
    for name, rep in reports.items():
        assert rep["errors"] == [] and rep["queries"] > 10, (name, rep)
    assert len(reports["hold0"]["seen"]) == 1, "a reader holding the file open keeps its snapshot"
    for name in ("reopen1", "reopen2"):
        assert len(reports[name]["seen"]) == 2, f"{name} saw the old snapshot, then the new one"
    assert reports["reopen1"]["seen"][0] == reports["hold0"]["seen"][0]
    assert _tables(served.serving_path, "marts") != before, "the new day is published"


KILLED_PUBLISH = textwrap.dedent(
    """
    import sys
    from pipelines.serving import publish
    from pipelines.settings import Settings
    publish(Settings.from_env())
    """
)


def test_sigkill_mid_publish_leaves_the_previous_snapshot_intact(tmp_path, monkeypatch):
    from pipelines.serving import publish

    wh, serving = tmp_path / "wh.duckdb", tmp_path / "serving" / "kpi.duckdb"
    monkeypatch.setenv("KPI_WAREHOUSE_PATH", str(wh))
    monkeypatch.setenv("KPI_SERVING_PATH", str(serving))
    monkeypatch.setenv("KPI_LANDING_DIR", str(tmp_path / "landing"))
    with connect(wh) as con:
        from pipelines.ingest import ensure_raw_tables

        ensure_raw_tables(con)
        con.execute("CREATE SCHEMA marts; CREATE TABLE marts.small AS SELECT range AS i FROM range(10)")
    first = publish(Settings.from_env())

    # Make the next publish slow enough to be killed in the middle of copying.
    with connect(wh) as con:
        con.execute("CREATE TABLE marts.big AS SELECT range AS i, md5(range::VARCHAR) AS h FROM range(3000000)")
    proc = subprocess.Popen([sys.executable, "-c", KILLED_PUBLISH], env=os.environ.copy())
    deadline = time.monotonic() + 60
    while not any(p.stat().st_size > 0 for p in serving.parent.glob("*.tmp-*")):
        assert proc.poll() is None and time.monotonic() < deadline, "publish finished before it could be killed"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    assert list(serving.parent.glob("*.tmp-*")), "the half-written file is the temp file, not the serving file"
    with duckdb.connect(str(serving), read_only=True) as con:
        assert con.execute("SELECT snapshot_id FROM ops.publish_info").fetchone()[0] == first.snapshot_id
        assert con.execute("SELECT count(*) FROM marts.small").fetchone()[0] == 10
    second = publish(Settings.from_env())
    assert second.tables["marts.big"] == 3_000_000
    assert not list(serving.parent.glob("*.tmp-*")), "the next publish cleans up"
