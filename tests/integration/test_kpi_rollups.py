"""marts.kpi_weekly and marts.kpi_monthly in the published snapshot, against sums of the daily components
computed here in Python from marts.fct_kpi_daily (not with the models' SQL): a ratio, an amount and a
count, complete and partial periods; and the console's week is the snapshot's."""
from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest

from pipelines.report import kpi_week
from pipelines.warehouse import connect

# A ratio, an amount (rollup sum) and a count (rollup sum) of the catalogue.
KPIS = {"sf_conversion_rate": "ratio", "sf_net_revenue_amount": "sum", "cs_unanswered_tickets": "sum"}


def _week(day: dt.date) -> tuple[dt.date, dt.date]:
    start = day - dt.timedelta(days=day.weekday())  # Monday
    return start, start + dt.timedelta(days=6)


def _month(day: dt.date) -> tuple[dt.date, dt.date]:
    return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _expected(con, period) -> dict:
    """(period_start, kpi_id, segment_type, segment) -> the row the roll-up must hold, from the daily rows."""
    kpis = {k: rest for k, *rest in con.execute(
        "SELECT kpi_id, rollup, grain, domain, direction, target, warning_band FROM marts.dim_kpi").fetchall()}
    daily = con.execute("SELECT kpi_id, kpi_date, segment_type, segment, numerator, denominator, target "
                        "FROM marts.fct_kpi_daily").fetchall()
    # the days each domain has data for: its first and last day with activity in a day-grain KPI
    active = defaultdict(list)
    for kpi_id, day, segment_type, _, num, den, _ in daily:
        if segment_type == "all" and kpis[kpi_id][1] == "day" and (num or den):
            active[kpis[kpi_id][2]].append(day)
    sums: dict = {}
    for kpi_id, day, segment_type, segment, num, den, target in daily:
        start, end = period(day)
        row = sums.setdefault((start, kpi_id, segment_type, segment), {"end": end, "num": Decimal(0), "den": None, "days": 0, "target": target})
        row["num"] += num
        row["den"] = den if row["den"] is None else row["den"] + (den or 0)
        row["days"] += 1
    out = {}
    for (start, kpi_id, segment_type, segment), row in sums.items():
        rollup, grain, domain, direction, _, band = kpis[kpi_id]
        days = (row["end"] - start).days + 1
        value = float(row["num"]) if rollup == "sum" else (float(row["num"]) / float(row["den"]) if row["den"] else None)
        target = None if row["target"] is None else row["target"] * (days if rollup == "sum" else 1)
        complete = bool(active[domain]) and min(active[domain]) <= start and row["end"] <= max(active[domain])
        out[(start, kpi_id, segment_type, segment)] = {
            "period_end": row["end"], "numerator": row["num"], "denominator": row["den"], "value": value,
            "target": target, "status": _status(value, target, direction, band) if complete else None,
            "days_in_period": days, "days_with_data": row["days"], "is_complete": complete}
    return out


def _status(value, target, direction, band):
    """KPI_CATALOG.md rule 7, written here as the oracle (the code's rule is the dbt macro kpi_status):
    on target on the right side of the target, at risk within band × |target| on the wrong side."""
    if value is None or target is None:
        return None
    slack = (band or 0.0) * abs(target)
    if direction == "higher_is_better":
        return "on_target" if value >= target else "at_risk" if value >= target - slack else "off_target"
    return "on_target" if value <= target else "at_risk" if value <= target + slack else "off_target"


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))


@pytest.mark.parametrize("table, period", [("kpi_weekly", _week), ("kpi_monthly", _month)])
def test_roll_ups_re_sum_the_daily_components(published_demo, table, period):
    columns = ["period_end", "numerator", "denominator", "value", "target", "status", "days_in_period",
               "days_with_data", "is_complete"]
    with connect(published_demo.serving_path, read_only=True) as con:
        expected = {k: v for k, v in _expected(con, period).items() if k[1] in KPIS}
        got = {tuple(r[:4]): dict(zip(columns, r[4:])) for r in con.execute(
            f"SELECT period_start, kpi_id, segment_type, segment, {', '.join(columns)} FROM marts.{table} "
            f"WHERE kpi_id IN ({', '.join('?' for _ in KPIS)})", list(KPIS)).fetchall()}
    assert set(got) == set(expected)
    for key, want in expected.items():
        for column, value in want.items():
            assert _close(got[key][column], value) if column in ("value", "target", "numerator", "denominator") \
                else got[key][column] == value, (table, key, column, got[key][column], value)
    # the demo (2026-03-18, a Wednesday, to 2026-03-31, a Tuesday): partial and complete periods
    alls = {k[0]: v for k, v in got.items() if k[1] == "sf_net_revenue_amount" and k[2] == "all"}
    if table == "kpi_weekly":
        assert alls[dt.date(2026, 3, 23)]["is_complete"] and alls[dt.date(2026, 3, 23)]["status"] is not None
        partial = alls[dt.date(2026, 3, 30)]
        assert (partial["period_end"], partial["days_with_data"], partial["is_complete"], partial["status"]) == \
            (dt.date(2026, 4, 5), 2, False, None)
    else:
        march = alls[dt.date(2026, 3, 1)]
        assert (march["days_in_period"], march["is_complete"], march["status"]) == (31, False, None)
    for kpi_id, rollup in KPIS.items():  # the three kinds, 'all' and segment rows
        rows = [v for k, v in got.items() if k[1] == kpi_id]
        assert any(v["denominator"] is None for v in rows) == (rollup == "sum"), kpi_id
        assert len({k[2] for k in got if k[1] == kpi_id}) > 1, kpi_id


def test_the_console_week_is_the_snapshots_kpi_weekly(published_demo):
    with connect(published_demo.serving_path, read_only=True) as con:
        start, end, lines = kpi_week(con)
        weekly = {r[0]: r[1:] for r in con.execute(
            "SELECT kpi_id, value, target, status FROM marts.kpi_weekly WHERE segment_type = 'all' AND period_start = ?",
            [start]).fetchall()}
    assert (start, end) == (dt.date(2026, 3, 23), dt.date(2026, 3, 29))
    shown = {line.kpi_id: (line.value, line.target, line.status) for line in lines if line.kpi_id in weekly}
    assert set(KPIS) <= set(shown)
    for kpi_id, (value, target, status) in shown.items():
        assert _close(value, weekly[kpi_id][0]) and _close(target, weekly[kpi_id][1]) and status == weekly[kpi_id][2], kpi_id
