"""Gate results in the warehouse: ops.sop_check_results, the quarantine, the refresh log and the gates' watermarks.

The tables' layout lives in dbt (macros/sop_ops_tables.sql, created on every dbt invocation);
rows are inserted here by column name. Every write opens the warehouse through
`warehouse.connect` (the one writer lane), writes in one transaction and closes at once:
DuckDB allows one writer process, and the next step (dbt) needs the file.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..warehouse import connect, has_table
from .gate_runner import GateOutcome

from ..ops_tables import MART_STATE, QUARANTINE, REFRESH_LOG, RESULTS, SOP_OPS_TABLES
KEY_SEPARATOR = "|"  # between the key values of a quarantined row (macro not_quarantined joins them alike)


def ops_tables_exist(warehouse_path: Path) -> bool:
    if not Path(warehouse_path).exists():
        return False
    with connect(warehouse_path, read_only=True) as con:
        return all(has_table(con, t) for t in SOP_OPS_TABLES)


def watermarks(warehouse_path: Path) -> dict[tuple[str, str], dt.datetime]:
    """Per (suite, asset): the newest load stamp already judged, so the next run checks only newer rows.

    A process gate moves on after every evaluation (a breach is counted once). A data gate moves on
    only after it passed without a single offending row: rows that failed it are checked again on
    the next run (and keep blocking) until a corrected delivery replaces them, and rows it
    quarantined below its tolerance are checked again too, so that each run's quarantine of the
    gate (which replaces the previous one) still names them, and drops them once corrected.
    """
    if not Path(warehouse_path).exists():
        return {}
    with connect(warehouse_path, read_only=True) as con:
        if not has_table(con, RESULTS):
            return {}
        rows = con.execute(f"""
            WITH evaluations AS (
                SELECT run_id, suite, asset, any_value(gate_severity) AS severity, max(window_end) AS window_end,
                       bool_and(coalesce(success, false) AND coalesce(unexpected, 0) = 0) AS passed
                FROM {RESULTS}
                GROUP BY run_id, suite, asset
            )
            SELECT suite, asset, max(window_end) FILTER (WHERE passed OR severity = 'warn')
            FROM evaluations
            GROUP BY suite, asset
        """).fetchall()
    return {(suite, asset): end for suite, asset, end in rows if end is not None}


def result_rows(run_id: str, outcomes: list[GateOutcome], checked_at: dt.datetime) -> pd.DataFrame:
    records = []
    for o in outcomes:
        for e in o.expectations:
            records.append({
                "run_id": run_id, "sop_id": o.target.gate.sop_id, "suite": o.target.gate.suite,
                "gate_severity": o.target.gate.severity, "asset": o.target.asset,
                "relation": o.target.relation if not o.target.export else f"intake query of raw.{o.target.export}",
                "expectation": e.expectation, "expectation_type": e.expectation_type, "column_name": e.column,
                "rows_evaluated": e.rows_evaluated, "unexpected": e.unexpected, "unexpected_percent": e.unexpected_percent,
                "success": e.success,
                "observed_value": None if e.observed_value is None else json.dumps(e.observed_value, default=str)[:2000],
                "unexpected_sample": e.sample_json if (e.unexpected_values or e.unexpected_keys) else None,
                "error": e.error, "window_start": o.window_start, "window_end": o.window_end, "checked_at": checked_at,
            })
    frame = pd.DataFrame.from_records(records)
    for col in ("rows_evaluated", "unexpected"):
        frame[col] = frame[col].astype("Int64") if len(frame) else frame.get(col)
    return frame


def record_evaluation(warehouse_path: Path, run_id: str, outcomes: list[GateOutcome], at: dt.datetime,
                      held: dict[str, tuple[str, str]]) -> int:
    """What a gate step decided, in one transaction: its results, its quarantine and the KPI marts it
    holds back. Returns the number of rows quarantined."""
    with connect(warehouse_path) as con:
        con.execute("BEGIN TRANSACTION")
        _insert_results(con, run_id, outcomes, at)
        quarantined = _replace_quarantine(con, run_id, outcomes, at)
        _set_mart_holds(con, run_id=run_id, started_at=at, held=held, fresh=[])
        con.execute("COMMIT")
    return quarantined


def _insert_results(con, run_id: str, outcomes: list[GateOutcome], checked_at: dt.datetime) -> int:
    """Append one row per expectation evaluated; a rerun of the same run id replaces its rows."""
    if not outcomes:
        return 0
    frame = result_rows(run_id, outcomes, checked_at)
    con.execute(f"DELETE FROM {RESULTS} WHERE run_id = ? AND (suite, asset) IN (SELECT suite, asset FROM frame)", [run_id])
    con.execute(f"INSERT INTO {RESULTS} BY NAME SELECT * FROM frame")
    return len(frame)


def key_value(row: dict, keys: tuple[str, ...]) -> str:
    """A quarantined row's key values as one text, as macro not_quarantined builds it from a model's columns."""
    return KEY_SEPARATOR.join("" if row.get(k) is None else str(row[k]) for k in keys)


def quarantine_rows(run_id: str, outcomes: list[GateOutcome], at: dt.datetime) -> pd.DataFrame:
    """One row per (expectation, offending row) a passed data gate let through below its tolerance."""
    records = []
    for o in outcomes:
        keys = o.target.keys
        for e in o.quarantined:
            for row in e.quarantined_index:
                values = ", ".join(f"{k}={v}" for k, v in row.items() if k not in keys)
                records.append({
                    "run_id": run_id, "sop_id": o.target.gate.sop_id, "suite": o.target.gate.suite,
                    "asset": o.target.asset, "relation": o.target.relation, "expectation": e.expectation,
                    "key_columns": ", ".join(keys), "key_values": key_value(row, keys),
                    "row_keys": json.dumps({k: row.get(k) for k in keys}, default=str),
                    "reason": f"{e.expectation}" + (f" ({e.notes.rstrip('.')})" if e.notes else "")
                              + (f": {values}" if values else "")
                              + f"; {e.unexpected} of {e.rows_evaluated} rows, within the tolerance (mostly {e.mostly:g})",
                    "quarantined_at": at,
                })
    columns = ["run_id", "sop_id", "suite", "asset", "relation", "expectation", "key_columns", "key_values",
               "row_keys", "reason", "quarantined_at"]
    return pd.DataFrame.from_records(records, columns=columns)


def _replace_quarantine(con, run_id: str, outcomes: list[GateOutcome], at: dt.datetime) -> int:
    """Each data gate evaluated (and readable) replaces its quarantine: the rows it lets through now,
    none when it passed clean or failed (a failed gate holds its domain back instead)."""
    judged = [(o.target.gate.suite, o.target.asset) for o in outcomes if o.target.gate.is_data_gate and o.error is None]
    if not judged:
        return 0
    frame = quarantine_rows(run_id, outcomes, at)
    gates = pd.DataFrame(judged, columns=["suite", "asset"])
    con.execute(f"DELETE FROM {QUARANTINE} WHERE (suite, asset) IN (SELECT suite, asset FROM gates)")
    if len(frame):
        con.execute(f"INSERT INTO {QUARANTINE} BY NAME SELECT * FROM frame")
    return len(frame)


def write_refresh(warehouse_path: Path, *, run_id: str, started_at: dt.datetime, finished_at: dt.datetime,
                  models_built: int, marts_built: int, models_blocked: int, blocked_by: list[str]) -> None:
    with connect(warehouse_path) as con:
        con.execute("BEGIN TRANSACTION")
        con.execute(f"DELETE FROM {REFRESH_LOG} WHERE run_id = ?", [run_id])
        con.execute(
            f"INSERT INTO {REFRESH_LOG} (run_id, started_at, finished_at, models_built, marts_built, models_blocked, blocked_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [run_id, started_at, finished_at, models_built, marts_built, models_blocked, ", ".join(blocked_by) or None],
        )
        con.execute("COMMIT")


def _set_mart_holds(con, *, run_id: str, started_at: dt.datetime, held: dict[str, tuple[str, str]], fresh: list[str]) -> None:
    """The KPI marts a failed gate holds back (mart -> (gate, reason)), which keep their last good
    rows, and the marts rebuilt (no longer held)."""
    for mart in [*held, *fresh]:
        con.execute(f"INSERT INTO {MART_STATE} (mart) SELECT ? WHERE NOT EXISTS "
                    f"(SELECT 1 FROM {MART_STATE} WHERE mart = ?)", [mart, mart])
    for mart, (gate, reason) in held.items():
        con.execute(f"UPDATE {MART_STATE} SET held_by = ?, held_reason = ?, held_since = coalesce(held_since, ?), "
                    "held_run_id = ? WHERE mart = ?", [gate, reason, started_at, run_id, mart])
    for mart in fresh:
        con.execute(f"UPDATE {MART_STATE} SET held_by = NULL, held_reason = NULL, held_since = NULL, "
                    "held_run_id = NULL WHERE mart = ?", [mart])


def write_marts_built(warehouse_path: Path, *, run_id: str, started_at: dt.datetime, built: list[str]) -> None:
    """After the build: the KPI marts this run rebuilt, fresh again (no longer held)."""
    if not built:
        return
    with connect(warehouse_path) as con:
        con.execute("BEGIN TRANSACTION")
        _set_mart_holds(con, run_id=run_id, started_at=started_at, held={}, fresh=built)
        con.executemany(f"UPDATE {MART_STATE} SET built_at = ?, built_run_id = ? WHERE mart = ?",
                        [[started_at, run_id, m] for m in built])
        con.execute("COMMIT")


@dataclass(frozen=True)
class MartHold:
    mart: str
    gate: str
    reason: str
    held_since: dt.datetime | None
    built_at: dt.datetime | None  # its last good rows (None: never built)
    run_id: str  # the latest run that held it


def held_marts(con) -> list[MartHold]:
    """Every KPI mart held back now (a connection to the warehouse or to a serving snapshot)."""
    if not has_table(con, MART_STATE):
        return []
    return [MartHold(*row) for row in con.execute(
        f"SELECT mart, held_by, held_reason, held_since, built_at, held_run_id FROM {MART_STATE} "
        "WHERE held_by IS NOT NULL ORDER BY mart").fetchall()]


def held_domains(con) -> dict[str, list]:
    """domain -> the holds (sop.results.MartHold) of its KPI marts: a failed data gate keeps them at their
    last good rows (fct_kpi_daily.is_stale)."""
    from ..kpis import kpi_catalog

    domain_of = {kpi["mart"]: kpi["domain"] for kpi in kpi_catalog().values()}
    out: dict[str, list] = {}
    for h in held_marts(con):
        out.setdefault(domain_of.get(h.mart, h.mart), []).append(h)
    return out
