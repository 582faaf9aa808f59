"""The customer-service KPIs end to end: hand-made helpdesk exports → raw → dbt → mart.

Twelve tickets over two days, chosen so every cs_* KPI has a value computed by hand below.
Business timezone UTC (the `settings` fixture); "now" for unanswered tickets is the newest
helpdesk change, 2024-03-05 18:00:00 (the last interaction), not the wall clock.
"""
from __future__ import annotations

import datetime as dt

import pytest

from pipelines.exports import BY_NAME, SYSTEMS
from pipelines.ingest import ensure_raw_tables, load_export
from pipelines.kpis import kpis_of_mart
from pipelines.warehouse import connect
from tests.conftest import write_csv

TICKETS, INTERACTIONS, CSAT = BY_NAME["tickets"], BY_NAME["ticket_interactions"], BY_NAME["csat_responses"]
D1, D2 = "2024-03-04", "2024-03-05"


def ticket(tid, channel, created, status, updated, solved=None):
    return {"ticket_id": tid, "created_at": created, "updated_at": updated, "channel": channel,
            "priority": "normal", "status": status, "category": "order_status", "requester_id": "C1",
            "solved_at": solved}


# tickets_2024-03-04.csv: every ticket as it stood at the end of day 1. T02 was solved and
# reopened that day: open, no solved_at.
TICKETS_DAY_1 = [
    ticket("T01", "email", f"{D1} 08:00:00", "solved", f"{D1} 10:00:00", f"{D1} 10:00:00"),
    ticket("T02", "email", f"{D1} 09:00:00", "open", f"{D1} 12:30:00"),
    ticket("T03", "chat", f"{D1} 10:00:00", "solved", f"{D1} 10:40:00", f"{D1} 10:40:00"),
    ticket("T04", "email", f"{D1} 11:00:00", "solved", f"{D1} 11:10:00", f"{D1} 11:10:00"),
    ticket("T05", "email", f"{D1} 12:00:00", "solved", f"{D1} 14:00:00", f"{D1} 14:00:00"),
    ticket("T06", "phone", f"{D1} 13:00:00", "closed", f"{D1} 13:10:00", f"{D1} 13:10:00"),
    ticket("T07", "email", f"{D1} 14:00:00", "new", f"{D1} 14:00:00"),
]
# tickets_2024-03-05.csv: T02 again, solved again (the change export's newer version), and
# the tickets of day 2.
TICKETS_DAY_2 = [
    ticket("T02", "email", f"{D1} 09:00:00", "solved", f"{D2} 09:00:00", f"{D2} 09:00:00"),
    ticket("T08", "email", f"{D2} 10:00:00", "new", f"{D2} 10:00:00"),
    ticket("T09", "chat", f"{D2} 09:00:00", "open", f"{D2} 09:01:00"),
    ticket("T10", "social", f"{D2} 08:00:00", "pending", f"{D2} 10:00:00"),
    ticket("T11", "chat", f"{D2} 17:00:00", "solved", f"{D2} 17:30:00", f"{D2} 17:30:00"),
    ticket("T12", "social", f"{D2} 12:00:00", "new", f"{D2} 12:00:00"),
]

_n = 0


def event(tid, at, role, event_type, public, channel="email", tier=None):
    global _n
    _n += 1
    return {"interaction_id": f"I{_n:03d}", "ticket_id": tid, "created_at": at, "author_role": role,
            "author_id": None if role == "system" else f"{role}-1", "channel": channel,
            "is_public": "true" if public else "false", "event_type": event_type, "escalation_tier": tier}


def message(tid, at, role="agent", channel="email"):
    return event(tid, at, role, "message", True, channel)


def solved(tid, at, role="agent"):
    return event(tid, at, role, "solved", False)


INTERACTIONS_DAY_1 = [
    message("T01", f"{D1} 08:00:00", "customer"),
    message("T01", f"{D1} 08:30:00"),  # first response 30 min; the only agent reply
    solved("T01", f"{D1} 10:00:00"),
    message("T02", f"{D1} 10:00:00"),  # first response 60 min
    solved("T02", f"{D1} 11:00:00"),  # first solve: day 1
    event("T02", f"{D1} 12:00:00", "customer", "reopened", False),
    message("T02", f"{D1} 12:30:00"),  # second agent reply
    message("T03", f"{D1} 10:05:00", channel="chat"),  # 5 min
    event("T03", f"{D1} 10:10:00", "system", "escalated", False, "chat", tier="tier2"),
    solved("T03", f"{D1} 10:40:00"),
    message("T04", f"{D1} 11:00:00", "customer"),  # zero-touch: solved without an agent reply
    solved("T04", f"{D1} 11:10:00", "system"),
    message("T05", f"{D1} 12:20:00"),  # 20 min
    message("T05", f"{D1} 13:00:00"),  # two agent replies: not FCR
    solved("T05", f"{D1} 14:00:00"),
    message("T06", f"{D1} 13:00:30", channel="phone"),  # 0.5 min
    solved("T06", f"{D1} 13:10:00"),
]
INTERACTIONS_DAY_2 = [
    solved("T02", f"{D2} 09:00:00"),  # last solve: day 2
    event("T09", f"{D2} 09:01:00", "agent", "internal_note", False, "chat"),  # not a response
    message("T10", f"{D2} 10:00:00", channel="social"),  # 120 min
    message("T11", f"{D2} 17:03:00", channel="chat"),  # 3 min
    solved("T11", f"{D2} 17:30:00"),
    message("T10", f"{D2} 18:00:00", "customer", "social"),  # the newest helpdesk change: "now"
]


def survey(rid, tid, sent, responded=None, score=None):
    return {"response_id": rid, "ticket_id": tid, "sent_at": sent, "responded_at": responded, "score": score}


CSAT_DAY_1 = [  # split by sent_at
    survey("S1", "T01", f"{D1} 10:05:00", f"{D1} 12:00:00", 5),
    survey("S2", "T03", f"{D1} 10:45:00", f"{D2} 08:00:00", 2),
    survey("S3", "T04", f"{D1} 11:15:00"),  # unanswered: not a response
    survey("S4", "T05", f"{D1} 14:05:00", f"{D2} 09:00:00", 4),
    survey("S5", "T06", f"{D1} 13:15:00", f"{D2} 10:00:00", 3),
]
CSAT_DAY_2 = [
    survey("S6", "T02", f"{D2} 09:05:00", f"{D2} 12:00:00", 1),
    survey("S7", "T11", f"{D2} 17:35:00", f"{D2} 17:45:00", 5),
]

KPIS = ["cs_first_response_minutes", "cs_first_contact_resolution_rate", "cs_resolution_minutes",
        "cs_csat_rate", "cs_csat_score", "cs_escalation_rate", "cs_unanswered_tickets", "cs_reopen_rate",
        "cs_one_touch_resolution_rate", "cs_first_response_sla_rate"]

# (numerator, denominator) per KPI, worked out by hand; values are numerator / denominator.
#
# Created date (first response, escalation, unanswered at "now" = D2 18:00):
#   D1 email:  T01 30, T02 60, T05 20 answered -> 110 / 3; T04 zero-touch solved and T07 never
#              answered are not in the mean; 0 of 5 created escalated; T07 open 28 h > 24 h SLA -> 1.
#   D1 chat:   T03 5 / 1; escalated 1 / 1.          D1 phone: T06 0.5 / 1; 0 / 1 escalated.
#   D2 email:  T08 unanswered but 8 h < 24 h SLA: 0 / 1 answered, not counted; 0 / 1 escalated.
#   D2 chat:   T11 3 / 1; T09 (internal note only) 9 h > 10 min -> unanswered 1; 0 / 2 escalated.
#   D2 social: T10 120 / 1; T12 6 h > 4 h -> unanswered 1; 0 / 2 escalated.
# Created date, first reply within the channel's SLA (seed channel_sla: email 1440, social 240, chat 10,
# phone 1 minute) over tickets with a first reply: D1 email T01 30, T02 60, T05 20 -> 3 / 3; D1 chat T03 5
# -> 1 / 1; D1 phone T06 0.5 -> 1 / 1; D2 chat T11 3 -> 1 / 1; D2 social T10 120 -> 1 / 1; D2 email 0 / 0.
# First solved date (FCR over agent-touched solved tickets; T04 zero-touch in neither count):
#   D1 email: T01 FCR; T02 reopened and T05 two replies not -> 1 / 3.   D1 chat: T03 escalated 0 / 1.
#   D1 phone: T06 1 / 1.   D2 chat: T11 1 / 1.
# First solved date (reopen over every ticket solved at least once, zero-touch T04 included):
#   D1 email: T02 reopened of T01, T02, T04, T05 -> 1 / 4.   D1 chat: T03 0 / 1.   D1 phone: T06 0 / 1.
#   D2 chat: T11 0 / 1 (T02's second solve is not a first solve: D2 email 0 / 0).
# Last solved date (one-touch over tickets solved now, zero-touch T04 in the denominator):
#   D1 email: T01 of T01, T04, T05 -> 1 / 3.   D1 chat: T03 escalated, one reply 1 / 1.   D1 phone: T06 1 / 1.
#   D2 email: T02 two replies 0 / 1.   D2 chat: T11 1 / 1.
# Last solved date (resolution over tickets solved now):
#   D1 email: T01 120 + T04 10 + T05 120 = 250 / 3.   D1 chat: T03 40 / 1.   D1 phone: T06 10 / 1.
#   D2 email: T02 D1 09:00 -> D2 09:00 = 1440 / 1 (only if staging kept T02's newer version).
#   D2 chat: T11 30 / 1.
# Survey response date (S3 unanswered is in no count):
#   D1 email: S1 5 -> rate 1 / 1, score 5 / 1.   D2 chat: S2 2, S7 5 -> 1 / 2, 7 / 2.
#   D2 email: S4 4, S6 1 -> 1 / 2, 5 / 2.        D2 phone: S5 3 -> 0 / 1, 3 / 1.
EXPECTED = {
    (D1, "email"): {"cs_first_response_minutes": (110, 3), "cs_first_contact_resolution_rate": (1, 3),
                    "cs_resolution_minutes": (250, 3), "cs_csat_rate": (1, 1), "cs_csat_score": (5, 1),
                    "cs_escalation_rate": (0, 5), "cs_unanswered_tickets": (1, None), "cs_reopen_rate": (1, 4),
                    "cs_one_touch_resolution_rate": (1, 3), "cs_first_response_sla_rate": (3, 3)},
    (D1, "chat"): {"cs_first_response_minutes": (5, 1), "cs_first_contact_resolution_rate": (0, 1),
                   "cs_resolution_minutes": (40, 1), "cs_csat_rate": (0, 0), "cs_csat_score": (0, 0),
                   "cs_escalation_rate": (1, 1), "cs_unanswered_tickets": (0, None), "cs_reopen_rate": (0, 1),
                   "cs_one_touch_resolution_rate": (1, 1), "cs_first_response_sla_rate": (1, 1)},
    (D1, "phone"): {"cs_first_response_minutes": (0.5, 1), "cs_first_contact_resolution_rate": (1, 1),
                    "cs_resolution_minutes": (10, 1), "cs_csat_rate": (0, 0), "cs_csat_score": (0, 0),
                    "cs_escalation_rate": (0, 1), "cs_unanswered_tickets": (0, None), "cs_reopen_rate": (0, 1),
                    "cs_one_touch_resolution_rate": (1, 1), "cs_first_response_sla_rate": (1, 1)},
    (D2, "email"): {"cs_first_response_minutes": (0, 0), "cs_first_contact_resolution_rate": (0, 0),
                    "cs_resolution_minutes": (1440, 1), "cs_csat_rate": (1, 2), "cs_csat_score": (5, 2),
                    "cs_escalation_rate": (0, 1), "cs_unanswered_tickets": (0, None), "cs_reopen_rate": (0, 0),
                    "cs_one_touch_resolution_rate": (0, 1), "cs_first_response_sla_rate": (0, 0)},
    (D2, "chat"): {"cs_first_response_minutes": (3, 1), "cs_first_contact_resolution_rate": (1, 1),
                   "cs_resolution_minutes": (30, 1), "cs_csat_rate": (1, 2), "cs_csat_score": (7, 2),
                   "cs_escalation_rate": (0, 2), "cs_unanswered_tickets": (1, None), "cs_reopen_rate": (0, 1),
                   "cs_one_touch_resolution_rate": (1, 1), "cs_first_response_sla_rate": (1, 1)},
    (D2, "social"): {"cs_first_response_minutes": (120, 1), "cs_first_contact_resolution_rate": (0, 0),
                     "cs_resolution_minutes": (0, 0), "cs_csat_rate": (0, 0), "cs_csat_score": (0, 0),
                     "cs_escalation_rate": (0, 2), "cs_unanswered_tickets": (1, None), "cs_reopen_rate": (0, 0),
                     "cs_one_touch_resolution_rate": (0, 0), "cs_first_response_sla_rate": (1, 1)},
    (D2, "phone"): {"cs_first_response_minutes": (0, 0), "cs_first_contact_resolution_rate": (0, 0),
                    "cs_resolution_minutes": (0, 0), "cs_csat_rate": (0, 1), "cs_csat_score": (3, 1),
                    "cs_escalation_rate": (0, 0), "cs_unanswered_tickets": (0, None), "cs_reopen_rate": (0, 0),
                    "cs_one_touch_resolution_rate": (0, 0), "cs_first_response_sla_rate": (0, 0)},
}


@pytest.fixture
def helpdesk_warehouse(settings):
    """The landing files above, loaded into raw; every other export's raw table exists, empty."""
    for export, days in ((TICKETS, (TICKETS_DAY_1, TICKETS_DAY_2)),
                         (INTERACTIONS, (INTERACTIONS_DAY_1, INTERACTIONS_DAY_2)),
                         (CSAT, (CSAT_DAY_1, CSAT_DAY_2))):
        for day, rows in zip((D1, D2), days):
            path = write_csv(settings.landing_dir, export, rows, day=day)
            assert path == settings.landing_dir / export.folder / export.file_name(day)
    con = connect(settings.warehouse_path)
    try:
        ensure_raw_tables(con)
        for export in SYSTEMS["helpdesk"]:
            result = load_export(con, export, settings.landing_dir)
            assert result.rows_rejected == 0, result.reject_sample
        loaded = {e.name: con.execute(f"SELECT count(*) FROM raw.{e.name}").fetchone()[0] for e in SYSTEMS["helpdesk"]}
    finally:
        con.close()
    assert loaded == {"tickets": 13, "ticket_interactions": 23, "csat_responses": 7}
    return settings


def test_customer_service_mart_matches_hand_computed_kpis(helpdesk_warehouse, run_dbt):
    run_dbt("build", "--select", "+fct_customer_service_daily")

    with connect(helpdesk_warehouse.warehouse_path, read_only=True) as con:
        # Staging kept T02's newer version only (13 raw rows -> 12 tickets).
        assert con.execute("SELECT count(*), count(DISTINCT ticket_id) FROM staging.stg_helpdesk__tickets").fetchone() == (12, 12)
        assert con.execute(
            "SELECT status, updated_at, solved_at, _source_file FROM staging.stg_helpdesk__tickets WHERE ticket_id = 'T02'"
        ).fetchone() == ("solved", dt.datetime(2024, 3, 5, 9), dt.datetime(2024, 3, 5, 9), "helpdesk/tickets/tickets_2024-03-05.csv")

        cur = con.execute("SELECT * FROM marts.fct_customer_service_daily ORDER BY kpi_date, channel")
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r)) for r in cur.fetchall()]
        as_of = con.execute("SELECT DISTINCT unanswered_as_of_at FROM intermediate.int_customer_service__tickets").fetchall()

    assert as_of == [(dt.datetime(2024, 3, 5, 18),)], "'now' is the newest helpdesk change, not the wall clock"
    # The mart's KPI columns, in catalogue order (macro kpi_columns): every one of them is worked out above.
    in_mart = kpis_of_mart("fct_customer_service_daily")
    assert sorted(in_mart) == sorted(KPIS)
    assert names == ["kpi_date", "channel"] + [f"{k}{s}" for k in in_mart for s in ("_numerator", "_denominator", "")]
    got = {(r["kpi_date"].isoformat(), r["channel"]): r for r in rows}
    assert sorted(got) == sorted(EXPECTED)
    for key, kpis in EXPECTED.items():
        row = got[key]
        for kpi, (numerator, denominator) in kpis.items():
            where = f"{key} {kpi}"
            assert row[f"{kpi}_numerator"] == pytest.approx(numerator), where
            assert row[f"{kpi}_denominator"] == denominator, where
            if denominator is None:  # a count KPI: the value is the count
                assert row[kpi] == numerator, where
            elif denominator == 0:  # an empty denominator gives NULL, never 0
                assert row[kpi] is None, where
            else:
                assert row[kpi] == pytest.approx(numerator / denominator), where
