"""Dagster's SQLite run history without a checkpoint and sync per event: the event log storage class
pipelines.compat.KeptEngineSqliteEventLogStorage, named in config/dagster.yaml (opt-in per instance).

The first case compares Dagster's own storage with it, each in a fresh interpreter (and importing
pipelines.definitions there patches nothing: Dagster's own storage behaves as Dagster's).
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import json, os, sqlite3, sys
    import pipelines.definitions  # the code location: importing it must change nothing in Dagster
    os.environ["DAGSTER_HOME"] = sys.argv[1]
    storage = ("event_log_storage:\\n  module: pipelines.compat\\n  class: KeptEngineSqliteEventLogStorage\\n"
               if sys.argv[2] == "install" else "")
    open(os.path.join(sys.argv[1], "dagster.yaml"), "w").write("telemetry:\\n  enabled: false\\n" + storage)
    import dagster as dg
    import sqlalchemy as sa
    connects = []
    sa.event.listen(sa.engine.Engine, "connect", lambda con, rec: connects.append(1))
    instance = dg.DagsterInstance.get()
    run_id = "0f0f0f0f-0000-0000-0000-000000000000"
    shard = os.path.join(sys.argv[1], "history", "runs", run_id + ".db")
    wal_seen_between_events = []
    instance.report_engine_event("first event: creates the shard", job_name="job", run_id=run_id)
    connects.clear()
    for i in range(5):
        instance.report_engine_event(f"event {i}", job_name="job", run_id=run_id)
        wal_seen_between_events.append(os.path.exists(shard + "-wal"))
    con = sqlite3.connect(shard)
    stored = con.execute("select count(*) from event_logs").fetchone()[0]
    con.close()
    if sys.argv[2] == "install":
        from pipelines.compat import release_event_log
        release_event_log()  # what the runner does at the end of a run
    print(json.dumps({"wal": wal_seen_between_events, "stored": stored, "wal_at_end": os.path.exists(shard + "-wal"),
                      "connects": len(connects)}))
""")


def _events(tmp_path, mode: str) -> dict:
    home = tmp_path / mode
    home.mkdir()
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(home), mode], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_events_are_stored_and_the_wal_is_no_longer_checkpointed_away_after_each_event(tmp_path):
    plain = _events(tmp_path, "plain")
    tuned = _events(tmp_path, "install")
    # Dagster's own behaviour: each event's connection is the last to close, so SQLite
    # checkpoints the WAL into the database and deletes it (the syncs this module avoids).
    assert plain["wal"] == [False] * 5
    # With the listener, an idle connection keeps the WAL open between events ...
    assert tuned["wal"][1:] == [True] * 4
    # ... and every event is still there, readable by another connection (the webserver's).
    assert tuned["stored"] == plain["stored"] == 6
    # At the end of a run the idle connections close and the WAL is checkpointed away.
    assert tuned["wal_at_end"] is False
    # Dagster opens a new SQLite connection (and engine) per event; with the patch the shard's
    # engine and its pooled connection are kept for the run.
    assert plain["connects"] == 5
    assert tuned["connects"] == 0


def test_synchronous_normal_on_the_event_log_only(tmp_path):
    import sqlalchemy as sa

    from pipelines.compat import _shard_engine

    engine = _shard_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as con:
        # 1 = NORMAL (SQLite's default is 2 = FULL)
        assert con.exec_driver_sql("PRAGMA synchronous").scalar() == 1
    # any other engine of the process keeps SQLite's default: nothing process-wide
    with sa.create_engine(f"sqlite:///{tmp_path / 'y.db'}").connect() as con:
        assert con.exec_driver_sql("PRAGMA synchronous").scalar() == 2


def test_each_instance_writes_its_own_files(tmp_path):
    """Engines are kept per shard file: a second instance (another DAGSTER_HOME) in the same
    process, with the same run id, never writes into the first one's files."""
    import gc
    import sqlite3

    import dagster as dg

    from pipelines.compat import release_event_log

    run_id = "0f0f0f0f-0000-0000-0000-000000000001"
    kept = {"event_log_storage": {"module": "pipelines.compat", "class": "KeptEngineSqliteEventLogStorage",
                                  "config": {"base_dir": None}}}
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        kept["event_log_storage"]["config"]["base_dir"] = str(tmp_path / name / "history" / "runs")
        with dg.instance_for_test(temp_dir=str(tmp_path / name), overrides=kept) as instance:
            assert type(instance.event_log_storage).__name__ == "KeptEngineSqliteEventLogStorage"
            for i in range(2 if name == "first" else 3):
                instance.report_engine_event(f"{name} {i}", job_name="job", run_id=run_id)
        del instance
        gc.collect()  # the first storage object is gone: its id may be reused by the second
    release_event_log()
    counts = {}
    for name in ("first", "second"):
        con = sqlite3.connect(tmp_path / name / "history" / "runs" / f"{run_id}.db")
        counts[name] = con.execute("select count(*) from event_logs").fetchone()[0]
        con.close()
    assert counts == {"first": 2, "second": 3}
