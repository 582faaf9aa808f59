"""Alerts: always into `ops.alerts` and the log; optionally to a Slack-compatible webhook.

The webhook URL is a secret (it carries its own token): it is read from the environment
(`KPI_ALERT_WEBHOOK_URL`) when an alert is sent and never logged, printed or stored.
An alert raised while another process holds the warehouse lock waits in an outbox file
beside the warehouse and is written to `ops.alerts` by the next alert or run.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import urllib.error
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from .ops_tables import ALERTS, SCHEMA as OPS
from .settings import Settings, get_settings
from .warehouse import connect

log = logging.getLogger("kpi.alerts")
ALERT_KIND = "alert_kind"  # the attribute of an alert's log record that carries its kind (runner._alerts_to)
WEBHOOK_ENV = "KPI_ALERT_WEBHOOK_URL"


@dataclass
class Alert:
    kind: str  # run_failure | blocking_gate_failed | kpi_off_target | anomaly
    title: str
    details: dict = field(default_factory=dict)
    severity: str = "error"
    run_id: str | None = None
    # Whom it is addressed to (a KPI's catalogue owner, an asset's owners); None: whoever watches the channel.
    owner: str | None = None
    alert_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    raised_at: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat())

    def slack_payload(self) -> dict:
        lines = ([f"*{self.title}*"] + ([f"for: {self.owner}"] if self.owner else [])
                 + [f"• {k}: {v}" for k, v in self.details.items()])
        return {"text": "\n".join(lines), "kpi_alert": {"kind": self.kind, "severity": self.severity,
                                                         "run_id": self.run_id, "alert_id": self.alert_id,
                                                         "owner": self.owner}}


def _outbox(settings: Settings) -> Path:
    return settings.warehouse_path.parent / "alerts_outbox.jsonl"


def flush_outbox(settings: Settings | None = None, wait_seconds: float = 10.0) -> int:
    """Write queued alerts into ops.alerts; returns how many. Keeps them queued if the lock is busy."""
    settings = settings or get_settings()
    outbox = _outbox(settings)
    claimed = outbox.with_name(f"{outbox.name}.{uuid.uuid4().hex}")
    try:
        os.replace(outbox, claimed)  # atomic claim: alerts appended meanwhile go to a new outbox
    except FileNotFoundError:
        return 0
    pending = [json.loads(line) for line in claimed.read_text().splitlines() if line.strip()]
    try:
        with connect(settings.warehouse_path, wait_seconds=wait_seconds) as con:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {OPS}")
            con.execute(
                f"""CREATE TABLE IF NOT EXISTS {ALERTS} (alert_id VARCHAR PRIMARY KEY, raised_at TIMESTAMP,
                   kind VARCHAR, severity VARCHAR, title VARCHAR, details JSON, run_id VARCHAR, webhook_delivered BOOLEAN,
                   owner VARCHAR)"""
            )
            con.execute(f"ALTER TABLE {ALERTS} ADD COLUMN IF NOT EXISTS owner VARCHAR")  # warehouses from before it
            con.executemany(
                f"""INSERT OR IGNORE INTO {ALERTS} (alert_id, raised_at, kind, severity, title, details, run_id,
                   webhook_delivered, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [[a["alert_id"], a["raised_at"], a["kind"], a["severity"], a["title"], json.dumps(a["details"]),
                  a["run_id"], a.get("webhook_delivered"), a.get("owner")] for a in pending],
            )
    except duckdb.IOException as exc:
        with open(outbox, "a") as f:  # put them back for the next flush
            f.write(claimed.read_text())
        claimed.unlink()
        log.warning("ops.alerts is busy (%s); %d alert(s) stay queued in %s", exc, len(pending), outbox)
        return 0
    claimed.unlink()
    return len(pending)


def _post_webhook(url: str, payload: dict) -> bool:
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError) as exc:
        # Never log the URL: it is a credential. Say what failed, not where.
        reason = getattr(exc, "code", None) or type(exc).__name__
        log.error("alert webhook delivery failed (%s); the alert is in ops.alerts", reason)
        return False


def send_alert(alert: Alert, settings: Settings | None = None, *, lock_wait_seconds: float = 10.0) -> Alert:
    settings = settings or get_settings()
    log.error("ALERT [%s] %s%s %s", alert.kind, alert.title, f" (for {alert.owner})" if alert.owner else "",
              json.dumps(alert.details, default=str), extra={ALERT_KIND: alert.kind})
    url = os.environ.get(WEBHOOK_ENV)
    record = asdict(alert)
    record["webhook_delivered"] = _post_webhook(url, alert.slack_payload()) if url else None
    outbox = _outbox(settings)
    outbox.parent.mkdir(parents=True, exist_ok=True)
    with open(outbox, "a") as f:  # durable first, then into the warehouse when the lock allows
        f.write(json.dumps(record, default=str) + "\n")
    flush_outbox(settings, wait_seconds=lock_wait_seconds)
    return alert


def alert_for_failed_run(instance, run_id: str, job_name: str, settings: Settings | None = None) -> Alert:
    """One alert for a failed run, naming the failed blocking checks (gates) and steps."""
    from dagster import DagsterEventType

    failed_checks, failed_steps = [], []
    for rec in instance.get_records_for_run(run_id, of_type={DagsterEventType.ASSET_CHECK_EVALUATION,
                                                             DagsterEventType.STEP_FAILURE}).records:
        event = rec.event_log_entry.dagster_event
        if event.event_type == DagsterEventType.STEP_FAILURE:
            err = event.event_specific_data.error
            while err is not None and err.cause is not None:  # the user error, not Dagster's wrapper
                err = err.cause
            failed_steps.append(f"{event.step_key}: {(err.message if err else '').strip()[:300]}")
        else:
            ev = event.event_specific_data
            if not ev.passed and ev.severity.value == "ERROR":
                failed_checks.append(f"{ev.asset_key.to_user_string()}:{ev.check_name}")
    kind = "blocking_gate_failed" if failed_checks else "run_failure"
    title = (f"{len(failed_checks)} blocking check(s) failed in run {run_id[:8]} of {job_name}" if failed_checks
             else f"run {run_id[:8]} of {job_name} failed")
    details = {"job": job_name, "run_id": run_id}
    if failed_checks:
        details["failed_checks"] = ", ".join(failed_checks[:20])
    if failed_steps:
        details["failed_steps"] = " | ".join(failed_steps[:5])
    return send_alert(Alert(kind=kind, title=title, details=details, run_id=run_id), settings)


def kpis_turned_off_target(con) -> list[Alert]:
    """KPIs (whole business) whose latest day is off target while the day before was not."""
    rows = con.execute(
        """WITH daily AS (
               SELECT kpi_id, kpi_date, value, target, status,
                      lag(status) OVER (PARTITION BY kpi_id ORDER BY kpi_date) AS previous_status,
                      row_number() OVER (PARTITION BY kpi_id ORDER BY kpi_date DESC) AS recency
               FROM marts.fct_kpi_daily
               WHERE segment_type = 'all' AND status IS NOT NULL)
           SELECT kpi_id, kpi_date, value, target, previous_status FROM daily
           WHERE recency = 1 AND status = 'off_target' AND coalesce(previous_status, '') <> 'off_target'
           ORDER BY kpi_id"""
    ).fetchall()
    # A KPI needing an export the business does not deliver is not computed: its zeros are no alert.
    from .exports.delivered import not_delivered
    from .kpis import kpis_not_computed

    not_computed = kpis_not_computed(not_delivered(get_settings().exports_config))
    rows = [r for r in rows if r[0] not in not_computed]
    return [
        Alert(kind="kpi_off_target", severity="warning", title=f"{kpi_id} turned off target on {day}",
              details={"kpi_id": kpi_id, "date": str(day), "value": value, "target": target,
                       "previous_status": previous or "none"})
        for kpi_id, day, value, target, previous in rows
    ]
