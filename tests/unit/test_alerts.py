"""Alerts reach ops.alerts, the log and a webhook (a real local HTTP server), and never leak the URL."""
from __future__ import annotations

import http.server
import json
import logging
import threading

import pytest

from pipelines.alerts import WEBHOOK_ENV, Alert, send_alert
from pipelines.warehouse import connect


@pytest.fixture
def webhook():
    received: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append({"path": self.path, "json": json.loads(body), "type": self.headers["content-type"]})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/services/T000/B000/secret-token", received
    server.shutdown()


def test_alert_reaches_the_webhook_and_ops_alerts_without_leaking_the_url(settings, webhook, monkeypatch, caplog):
    url, received = webhook
    monkeypatch.setenv(WEBHOOK_ENV, url)
    caplog.set_level(logging.DEBUG)
    alert = send_alert(Alert(kind="kpi_off_target", title="cs_csat_rate is off target",
                             details={"kpi_id": "cs_csat_rate", "value": 0.61, "target": 0.85}, run_id="r1",
                             owner="Head of Customer Service"), settings)

    assert len(received) == 1
    payload = received[0]
    assert payload["path"] == "/services/T000/B000/secret-token" and payload["type"] == "application/json"
    assert payload["json"]["text"].startswith("*cs_csat_rate is off target*")
    assert "kpi_id: cs_csat_rate" in payload["json"]["text"]
    assert "for: Head of Customer Service" in payload["json"]["text"]  # addressed to its owner
    assert payload["json"]["kpi_alert"] == {"kind": "kpi_off_target", "severity": "error", "run_id": "r1",
                                            "alert_id": alert.alert_id, "owner": "Head of Customer Service"}
    with connect(settings.warehouse_path, read_only=True) as con:
        rows = con.execute("SELECT kind, title, run_id, webhook_delivered, details, owner FROM ops.alerts").fetchall()
    assert rows[0][:4] == ("kpi_off_target", "cs_csat_rate is off target", "r1", True)
    assert rows[0][5] == "Head of Customer Service"
    assert json.loads(rows[0][4])["target"] == 0.85
    assert "secret-token" not in caplog.text and "secret-token" not in rows[0][4]
    assert "cs_csat_rate is off target" in caplog.text


def test_failed_webhook_is_logged_without_the_url_and_the_alert_is_kept(settings, monkeypatch, caplog):
    monkeypatch.setenv(WEBHOOK_ENV, "http://127.0.0.1:9/hooks/secret-token")  # nothing listens on port 9
    caplog.set_level(logging.DEBUG)
    send_alert(Alert(kind="run_failure", title="run x failed"), settings)
    assert "webhook delivery failed" in caplog.text and "secret-token" not in caplog.text
    with connect(settings.warehouse_path, read_only=True) as con:
        assert con.execute("SELECT webhook_delivered FROM ops.alerts").fetchall() == [(False,)]


def test_alert_waits_in_the_outbox_while_the_warehouse_is_locked(settings, monkeypatch):
    import multiprocessing

    from pipelines import alerts

    monkeypatch.delenv(WEBHOOK_ENV, raising=False)
    settings.warehouse_path.parent.mkdir(parents=True)
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(settings.warehouse_path), ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        send_alert(Alert(kind="run_failure", title="while locked"), settings, lock_wait_seconds=0.5)
        assert settings.warehouse_path.with_name("alerts_outbox.jsonl").exists()
    finally:
        release.set()
        holder.join(30)
    assert alerts.flush_outbox(settings) == 1
    with connect(settings.warehouse_path, read_only=True) as con:
        assert con.execute("SELECT title FROM ops.alerts").fetchall() == [("while locked",)]


def _hold_lock(path, ready, release):
    import duckdb

    con = duckdb.connect(path)
    ready.set()
    release.wait(60)
    con.close()


def test_only_kpis_that_just_turned_off_target_alert():
    import duckdb

    from pipelines.alerts import kpis_turned_off_target

    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    con.execute("""CREATE TABLE marts.fct_kpi_daily AS SELECT * FROM (VALUES
        ('a_rate', DATE '2026-03-01', 'all', 0.9, 0.8, 'on_target'),
        ('a_rate', DATE '2026-03-02', 'all', 0.5, 0.8, 'off_target'),   -- turned: alert
        ('b_rate', DATE '2026-03-01', 'all', 0.1, 0.8, 'off_target'),
        ('b_rate', DATE '2026-03-02', 'all', 0.1, 0.8, 'off_target'),   -- still off: no new alert
        ('c_rate', DATE '2026-03-01', 'all', 0.9, 0.8, 'off_target'),
        ('c_rate', DATE '2026-03-02', 'all', 0.9, 0.8, 'on_target'),    -- recovered
        ('d_rate', DATE '2026-03-02', 'channel', 0.1, 0.8, 'off_target') -- a segment, not the business
        ) t(kpi_id, kpi_date, segment_type, value, target, status)""")
    alerts = kpis_turned_off_target(con)
    assert [(a.details["kpi_id"], a.details["date"], a.details["previous_status"]) for a in alerts] == [
        ("a_rate", "2026-03-02", "on_target")]
    assert alerts[0].title == "a_rate turned off target on 2026-03-02"
