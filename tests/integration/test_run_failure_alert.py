"""A run that fails raises one alert naming the failed step (no daemon needed for in-process runs)."""
from __future__ import annotations

import json

from pipelines.exports import BY_NAME
from pipelines.warehouse import connect
from tests.conftest import write_csv


def test_failed_run_raises_an_alert(settings):
    tickets = BY_NAME["tickets"]
    write_csv(settings.landing_dir, tickets, [{"ticket_id": "T1"}],
              columns=[c for c in tickets.column_names if c != "channel"])
    from pipelines.runner import run_job

    lines: list[str] = []
    assert not run_job("ingest_exports", print_fn=lines.append)
    assert any("alert raised" in line for line in lines), lines
    # The console gives the loader's own message (file, missing column), not Dagster's wrapper around it.
    failed = next(line for line in lines if line.startswith("  ✗ step raw__tickets failed: "))
    assert "channel" in failed and "tickets" in failed, failed
    assert "DagsterExecutionStepExecutionError" not in failed and "Error occurred while executing" not in failed, failed
    with connect(settings.warehouse_path, read_only=True) as con:
        kind, title, details = con.execute("SELECT kind, title, details FROM ops.alerts").fetchone()
    assert kind == "run_failure" and "ingest_exports" in title
    details = json.loads(details)
    assert "raw__tickets" in details["failed_steps"] and "channel" in details["failed_steps"]
