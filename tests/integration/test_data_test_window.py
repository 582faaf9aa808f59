"""Data tests in a nightly run read the run's window only (dbt_project/macros/data_test_window.sql).

A duplicate session id on an old day fails the full refresh's test, not a nightly test of
another window; a duplicate inside the window fails the nightly test too.
"""
from __future__ import annotations

import json

from pipelines.exports import EXPORTS
from pipelines.ingest import ensure_raw_tables
from pipelines.warehouse import connect

SESSIONS = next(e for e in EXPORTS if e.name == "web_sessions")
UNIQUE = "unique_stg_storefront__web_sessions_session_id"


def _session(session_id: str, started_at: str) -> dict:
    return {"session_id": session_id, "visitor_id": "v1", "device": "desktop", "sales_channel": "web",
            "started_at": started_at, "ended_at": started_at, "_source_file": "f.csv", "_loaded_at": started_at}


def _insert(settings, rows: list[dict]) -> None:
    with connect(settings.warehouse_path) as con:
        ensure_raw_tables(con)
        for r in rows:  # straight into raw: ingest would quarantine the duplicate itself
            cols = list(r)
            con.execute(f"INSERT INTO raw.web_sessions ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                        [r[c] for c in cols])


def test_a_nightly_run_tests_its_window_and_a_full_refresh_everything(settings, run_dbt, tmp_path):
    assert SESSIONS.event_date == "started_at"
    _insert(settings, [_session("S1", "2026-01-05 10:00:00"), _session("S1", "2026-01-05 11:00:00"),
                       _session("S2", "2026-03-01 10:00:00")])
    run_dbt("run", "--select", "stg_storefront__web_sessions")

    everything = run_dbt("test", "--select", "stg_storefront__web_sessions,test_name:unique", check=False)
    assert everything.returncode != 0 and f"FAIL 1 {UNIQUE}" in everything.stdout, everything.stdout[-3000:]

    window = ["--vars", json.dumps({"min_date": "2026-02-26", "max_date": "2026-03-01"})]
    nightly = run_dbt("test", "--select", "stg_storefront__web_sessions,test_name:unique", *window, check=False)
    assert nightly.returncode == 0 and f"PASS {UNIQUE}" in nightly.stdout, nightly.stdout[-3000:]
    compiled = next((tmp_path / "dbt_target" / "compiled").rglob(f"{UNIQUE}.sql")).read_text()
    assert "2026-02-26" in compiled and "2026-03-01" in compiled, compiled

    _insert(settings, [_session("S2", "2026-03-01 12:00:00")])
    again = run_dbt("test", "--select", "stg_storefront__web_sessions,test_name:unique", *window, check=False)
    assert again.returncode != 0 and f"FAIL 1 {UNIQUE}" in again.stdout, again.stdout[-3000:]
