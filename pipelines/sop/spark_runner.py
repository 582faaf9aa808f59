"""The SOP gates on the Spark warehouse: the same suites, through Great Expectations' Spark datasource.

The gate relations are dbt models (sop.* gate views, staging, marts), built on Spark by the same
dbt project, so a gate target's SQL (runner.windowed_sql) runs unchanged in Spark SQL. GX runs the
suite on the window as a Spark DataFrame: every expectation, regular expressions included (no
pandas detour as on DuckDB), and outcomes are read by the DuckDB runner's own code (GateRunner).

Not run on Spark: the per-export intake gates (SOP-DATA-01 export intake). They judge the load
itself (rows quarantined in raw._rejects, contract columns of the loader's tables), which happens
in DuckDB before the raw zone is written; the raw zone only ever holds rows that passed the loader.
No quarantine on Spark either: rows a data gate lets through below its tolerance (`mostly`) fail
the gate there, so the domain is held back rather than built on rows nobody left out.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from .registry import GateTarget, Registry, load_suite
from ..ops_tables import RESULTS
from .results import result_rows
from .gate_runner import GateOutcome, GateRunner, ExpectationOutcome, windowed_sql

_log = logging.getLogger(__name__)


def spark_targets(registry: Registry) -> list[GateTarget]:
    """The gate targets that run on the Spark warehouse (all but the per-export intake gates)."""
    return [t for t in registry.targets() if t.export is None]


class SparkGateRunner(GateRunner):
    """GateRunner on a live SparkSession (the one dbt-spark's `session` method runs in)."""

    def __init__(self, spark, *, now: dt.datetime | None = None):
        super().__init__(warehouse_path=".", now=now)
        self.spark = spark

    def _context(self):
        if self._ctx is None:
            self._ctx = self._quiet_context()
            self._spark_ds = self._ctx.data_sources.add_spark("spark_warehouse")
        return self._ctx

    def close(self) -> None:  # nothing held: the session belongs to the caller
        pass

    def evaluate_one(self, target: GateTarget, window_start: dt.datetime | None = None) -> GateOutcome:
        import great_expectations as gx

        t0 = time.perf_counter()
        self._context()
        raw = load_suite(self._suite_path(target.gate.suite))
        window_col = target.gate.window
        self._n += 1
        try:
            # Cached once: GX's metrics then scan the window, not the gate view's query again.
            frame = self.spark.sql(windowed_sql(target, window_start)).cache()
            stats = frame.selectExpr("count(*) AS n", f"max({window_col}) AS w" if window_col else "NULL AS w").first()
            rows, window_end = int(stats["n"]), stats["w"]
        except Exception as exc:  # pyspark's AnalysisException and friends: the relation cannot be read
            msg = str(exc).strip().splitlines()[0]
            _log.warning("gate %s could not read %s on Spark: %s", target.label, target.relation[:80], msg)
            outcomes = [ExpectationOutcome(e["meta"]["id"], e["type"], e["kwargs"].get("column"), False, None, None, None,
                                           error=msg, notes=e["meta"].get("notes")) for e in raw["expectations"]]
            return GateOutcome(target, window_start, None, 0, outcomes, time.perf_counter() - t0, error=msg)
        try:
            keys = [k for k in target.keys if k in frame.columns]
            params = {"now": self.now.isoformat(sep=" "), **target.parameters}
            name = self._validation_name(target, "spark")
            batch = self._spark_ds.add_dataframe_asset(name).add_batch_definition_whole_dataframe("window")
            suite = self._suite(target.gate.suite, "spark", raw["expectations"])
            vd = self._ctx.validation_definitions.add(gx.ValidationDefinition(data=batch, suite=suite, name=name))
            res = vd.run(batch_parameters={"dataframe": frame}, result_format=self._result_format(keys),
                         expectation_parameters=params)
            results: dict[str, Any] = {r.expectation_config.meta.get("id"): r for r in res.results}
        finally:
            frame.unpersist()
        outcomes = [self._outcome(e, results.get(e["meta"]["id"]), rows) for e in raw["expectations"]]
        for o in outcomes:  # no quarantine writer on Spark: rows below a data gate's tolerance hold the domain back
            if target.gate.is_data_gate and o.tolerated:
                o.success, o.error = False, f"{o.unexpected} row(s) below the tolerance: no quarantine on Spark"
        return GateOutcome(target, window_start, window_end if rows else None, rows, outcomes, time.perf_counter() - t0)


def write_results_spark(spark, run_id: str, outcomes: list[GateOutcome], checked_at: dt.datetime) -> int:
    """Append the outcomes to ops.sop_check_results on Spark (the table dbt's on-run-start creates),
    the same rows results.record_evaluation writes on DuckDB; marts.fct_sop_compliance_daily reads them."""
    if not outcomes:
        return 0
    frame = result_rows(run_id, outcomes, checked_at)
    table = spark.table(RESULTS)
    records = [{c: _python(v) for c, v in r.items()} for r in frame.to_dict("records")]
    spark.createDataFrame(records, schema=table.schema).select(*table.columns).write.insertInto(RESULTS)
    return len(records)


def _python(v):
    """A pandas cell as the plain Python value Spark's row converter takes (None for every missing kind)."""
    import pandas as pd

    if v is None or (not isinstance(v, (str, bytes, list, dict)) and pd.isna(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    return v.item() if hasattr(v, "item") else v
