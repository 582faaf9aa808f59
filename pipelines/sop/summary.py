"""The SOP summary on the console (`kpi sop`, and after `kpi demo` / `kpi run`)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from ..warehouse import connect, tables
from .checks import share_text
from .registry import Registry, registry as default_registry
from ..ops_tables import QUARANTINE, REFRESH_LOG, RESULTS
from .results import held_marts


def latest_run(con) -> str | None:
    row = con.execute(f"SELECT run_id FROM {RESULTS} ORDER BY checked_at DESC LIMIT 1").fetchone()
    return row[0] if row else None


def failed_data_gates(warehouse_path: Path, run_id: str | None = None) -> list[str]:
    """The data gates (suite@asset) that failed in a run (default: the latest one)."""
    if not Path(warehouse_path).exists():
        return []
    with connect(warehouse_path, read_only=True) as con:
        if RESULTS not in tables(con):
            return []
        run_id = run_id or latest_run(con)
        return [f"{s}@{a}" for s, a in con.execute(
            f"""SELECT suite, asset FROM {RESULTS} WHERE run_id = ? AND gate_severity = 'block'
               GROUP BY suite, asset HAVING NOT bool_and(coalesce(success, false)) ORDER BY 1, 2""", [run_id]).fetchall()]


def _sample(text: str | None) -> str:
    try:
        data = json.loads(text or "{}")
    except json.JSONDecodeError:
        return ""
    rows = data.get("rows") or []
    if rows:
        return "; ".join(", ".join(f"{k}={v}" for k, v in r.items() if v is not None) for r in rows[:2])
    return ", ".join(str(v) for v in (data.get("values") or [])[:3])


def print_sop_summary(warehouse_path: Path, *, reg: Registry | None = None, print_fn=print,
                      today: dt.date | None = None, docs_dir: Path | None = None,
                      run_started: dt.datetime | None = None) -> None:
    """The latest gate results. `run_started` (UTC, naive): the run just made, which may have stopped
    before its gates: then say so, rather than show an older run's results as if they were its own."""
    reg = reg or default_registry()
    if not Path(warehouse_path).exists():
        print_fn("no warehouse yet: no SOP results")
        return
    with connect(warehouse_path, read_only=True) as con:
        existing = tables(con)
        if RESULTS not in existing:
            print_fn("no SOP gate results yet")
            return
        run_id = latest_run(con)
        last_checked = con.execute(f"SELECT max(checked_at) FROM {RESULTS} WHERE run_id = ?", [run_id]).fetchone()[0]
        if run_started is not None and (last_checked is None or last_checked < run_started):
            print_fn(f"\nSOP gates: none evaluated in this run; the latest results are from run "
                     f"{run_id[:8] if run_id else '-'} at {str(last_checked)[:16]} UTC (`kpi sop` shows them)")
            return
        rows = con.execute(
            f"""SELECT sop_id, suite, asset, gate_severity, expectation, success, rows_evaluated, unexpected,
                      unexpected_percent, unexpected_sample, error
               FROM {RESULTS} WHERE run_id = ? ORDER BY sop_id, gate_severity, suite, asset, expectation""",
            [run_id]).fetchall()
        compliance = {}
        if "marts.fct_sop_compliance_daily" in existing:
            compliance = {sop: (day, checks, passed, rate) for sop, day, checks, passed, rate in con.execute(
                """SELECT sop_id, kpi_date, check_count, passed_check_count, sop_compliance_rate
                   FROM marts.fct_sop_compliance_daily QUALIFY row_number() OVER (PARTITION BY sop_id ORDER BY kpi_date DESC) = 1"""
            ).fetchall()}
        held = held_marts(con)
        quarantined = {}
        if QUARANTINE in existing:
            quarantined = {(sop, suite, asset): n for sop, suite, asset, n in con.execute(
                f"""SELECT sop_id, suite, asset, count(DISTINCT key_values) FROM {QUARANTINE}
                    GROUP BY ALL ORDER BY ALL""").fetchall()}
        refresh = None
        if REFRESH_LOG in existing:
            refresh = con.execute(f"SELECT models_built, marts_built, models_blocked, blocked_by FROM {REFRESH_LOG} "
                                  "WHERE run_id = ?", [run_id]).fetchone()
    print_fn(f"\nSOP gates — run {run_id[:8] if run_id else '-'}")
    targets = reg.targets()
    for sop in reg.sops:
        mine = [r for r in rows if r[0] == sop.id]
        comp = compliance.get(sop.id)
        rate = "   n/a" if not comp or comp[3] is None else f"{comp[3]:6.1%}"
        checks = f"{comp[2]}/{comp[1]} checks on {comp[0]}" if comp else "no checks"
        review = " (review overdue)" if sop.is_review_overdue(reg.review_interval_days, today) else ""
        print_fn(f"  {sop.id:<12} {rate}  {sop.title[:44]:<44} {checks}{review}")
        evaluated = {(r[1], r[2]) for r in mine}
        skipped = [t for t in targets if t.gate.sop_id == sop.id and (t.gate.suite, t.asset) not in evaluated]
        if rows and skipped:  # its rate counts only the gates that ran: say which did not
            print_fn(f"      ? NOT EVALUATED in this run ({len(skipped)} gate(s), skipped: a failed data gate refused their input or it "
                     f"was not built, see the run log): " + ", ".join(f"{t.gate.suite} on {t.asset}" for t in skipped[:6])
                     + (" ..." if len(skipped) > 6 else ""))
        failed: dict[tuple, list] = {}
        for r in mine:
            if not r[5]:
                failed.setdefault((r[1], r[2], r[3]), []).append(r)
        for (suite, asset, severity), exps in failed.items():
            mark = "✗ BLOCKED" if severity == "block" else "! breach "
            print_fn(f"      {mark} {suite} on {asset}")
            for r in exps:
                if r[10]:
                    print_fn(f"          {r[4]}: could not run ({r[10][:120]})")
                else:
                    pct = f" ({share_text(r[8])})" if r[8] is not None else ""
                    sample = _sample(r[9])
                    print_fn(f"          {r[4]}: {r[7]} of {r[6]} rows{pct}" + (f", e.g. {sample}" if sample else ""))
        for (sop_id, suite, asset), n in quarantined.items():
            if sop_id == sop.id:
                print_fn(f"      ! QUARANTINED {n} row(s) of {asset} by {suite}, below its tolerance: left out of the "
                         f"KPIs, see {QUARANTINE}")
    for h in held:
        print_fn(f"  ✗ HELD BACK {h.mart}: {h.reason}; its KPIs are the last good rows "
                 f"({'built ' + str(h.built_at)[:16] if h.built_at else 'none yet'}), marked stale; every other domain is fresh")
    if refresh:
        built, marts, blocked, blocked_by = refresh
        line = f"  refresh: {built} models built ({marts} KPI marts), {blocked} not built"
        print_fn(line + (f" — blocked by: {blocked_by}" if blocked else ""))
    overdue = reg.overdue(today)
    if overdue:
        print_fn(f"  reviews overdue (> {reg.review_interval_days} days): " + ", ".join(
            f"{s.id} (last {s.last_reviewed})" for s in overdue))
    if docs_dir and (Path(docs_dir) / "index.html").exists():
        print_fn(f"  SOP pages and GX Data Docs: {Path(docs_dir) / 'index.html'}")
