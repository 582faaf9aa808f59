"""The GX runner: SOP gate suites executed as SQL inside DuckDB, over a read-only connection.

For each gate target (registry.GateTarget) the runner
1. limits the relation to the refresh window: the rows whose lineage stamp (`_loaded_at`) is
   newer than the gate's watermark (results.watermarks), so a refresh checks what it loaded;
2. runs the suite's expectations through a GX SQL datasource on the autocommit read-only
   dialect (gx_duckdb): GX compiles them to SQL that DuckDB executes; nothing is pulled into
   Python but aggregates and a sample of offending rows;
3. runs the expectations SQL cannot (regular expressions) on the pandas path, on a frame of
   only the columns they need, in the same window;
4. returns one GateOutcome per target with one ExpectationOutcome per expectation: rows
   evaluated, unexpected count and percent, observed value, a sample of unexpected values and
   of the keys of the offending rows;
5. for a data gate's expectation that GX let succeed thanks to its `mostly` while some rows
   broke it, asks GX again for the complete list of those rows' keys (result format COMPLETE,
   only then: the list is bounded by the tolerance): the rows the gate quarantines.
GX is imported on first use only: loading the Dagster code location stays fast.
"""
from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import json
import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .registry import SQL_ONLY_TYPES_UNSUPPORTED, GateTarget, load_suite, mostly
from .intake import WINDOW_PLACEHOLDER

SAMPLE_SIZE = 10  # offending rows reported per expectation
MEMORY_LIMIT = "2GB"  # of the private in-memory database holding one window at a time (spills to disk)
_log = logging.getLogger(__name__)


@dataclass
class ExpectationOutcome:
    expectation: str  # meta.id in the suite
    expectation_type: str
    column: str | None
    success: bool
    rows_evaluated: int | None
    unexpected: int | None
    unexpected_percent: float | None
    observed_value: Any = None
    unexpected_values: list = field(default_factory=list)
    unexpected_keys: list[dict] = field(default_factory=list)
    error: str | None = None
    notes: str | None = None
    mostly: float = 1.0  # GX's tolerance of the expectation (suite kwargs)
    # GX's unexpected_index_list of a row let through by `mostly`: the gate's keys and the offending values
    quarantined_index: list[dict] = field(default_factory=list)

    @property
    def tolerated(self) -> bool:
        """GX let it succeed thanks to `mostly` although some rows broke it."""
        return self.success and self.mostly < 1.0 and bool(self.unexpected)

    @property
    def sample_json(self) -> str:
        return _json({"values": self.unexpected_values, "rows": self.unexpected_keys})


@dataclass
class GateOutcome:
    target: GateTarget
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    rows_in_window: int
    expectations: list[ExpectationOutcome]
    seconds: float
    error: str | None = None  # the relation could not be read at all

    @property
    def passed(self) -> bool:
        return self.error is None and all(e.success for e in self.expectations)

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [e for e in self.expectations if not e.success]

    @property
    def unexpected_rows(self) -> int:
        return sum(e.unexpected or 0 for e in self.expectations)

    @property
    def quarantined(self) -> list[ExpectationOutcome]:
        """A passed data gate's expectations whose offending rows are quarantined (below the tolerance)."""
        if not (self.passed and self.target.gate.is_data_gate):
            return []
        return [e for e in self.expectations if e.tolerated]

    @property
    def quarantined_rows(self) -> int:
        keys = self.target.keys
        return len({tuple(row.get(k) for k in keys) for e in self.quarantined for row in e.quarantined_index})


def _json(value: Any, limit: int = 4000) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _sql_timestamp(ts: dt.datetime | None) -> str:
    return "NULL" if ts is None else f"TIMESTAMP '{ts.isoformat(sep=' ')}'"


def windowed_sql(target: GateTarget, window_start: dt.datetime | None) -> str:
    """The rows a gate checks in this run, as one SELECT."""
    relation = target.relation
    column = target.gate.window
    if WINDOW_PLACEHOLDER in relation:  # a generated query applies the window itself
        return f"SELECT * FROM {relation.replace(WINDOW_PLACEHOLDER, _sql_timestamp(window_start))} AS gate_input"
    if column is None or window_start is None:
        return f"SELECT * FROM {relation} AS gate_input"
    return f"SELECT * FROM {relation} AS gate_input WHERE {column} > {_sql_timestamp(window_start)}"


def _columns_of(expectation: dict) -> set[str]:
    kw = expectation.get("kwargs", {})
    cols = {kw[k] for k in ("column", "column_A", "column_B") if isinstance(kw.get(k), str)}
    cols |= set(kw.get("column_list") or [])
    cond = kw.get("row_condition")
    if isinstance(cond, dict):
        stack = [cond]
        while stack:
            c = stack.pop()
            if isinstance(c.get("column"), dict):
                cols.add(c["column"]["name"])
            stack.extend(c.get("conditions") or [])
    return cols


def _exception_message(info) -> str | None:
    """GX 1.x reports errors flat ({raised_exception, exception_message}) or per metric (a dict of those)."""
    if not isinstance(info, dict):
        return None
    entries = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for entry in entries:
        if entry.get("raised_exception"):
            return (entry.get("exception_message") or "error").strip().splitlines()[0]
    return None


def _number(v) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


_warm_up: threading.Thread | None = None
# What GX's import shares with the modules Dagster imports lazily in a step (its SQLite storage,
# progress bars, ...), imported by the calling thread before the warm-up thread starts. A module
# that two threads import at the same time can be seen half-initialised: 2 of 25 runs died with
# "partially initialized module 'sqlalchemy.orm.exc'". With these done first, the thread imports
# only modules the step never imports itself (tests/unit/test_gx_warm_up.py checks the two sets).
SHARED_WITH_DAGSTER = ("sqlalchemy", "sqlalchemy.orm", "sqlalchemy.dialects.sqlite", "sqlalchemy.dialects.postgresql",
                       "sqlite3", "attr", "greenlet", "markupsafe", "tqdm", "tqdm.std", "tqdm.cli", "tqdm.gui",
                       "tqdm.version", "zstandard", "configparser", "colorsys", "unicodedata", "gc",
                       "importlib.readers", "importlib.resources.readers")
# Modules whose import swaps logging's global logger class for a moment (pyspark's PySparkLogger.getLogger,
# reached through GX when pyspark is installed): a Dagster logger created in that moment by another thread
# is a PySparkLogger and the step dies (TypeError: unexpected keyword argument 'level'). Imported first too.
SWAP_LOGGER_CLASS = ("pyspark.errors.exceptions.base", "pyspark.sql.connect.logging")


def _import_gx() -> None:
    for module in ("great_expectations", "great_expectations.core.validation_definition"):
        importlib.import_module(module)


def warm_up_in_background() -> None:
    """Import Great Expectations (~4 s, `kpi bench`) in a background thread, once per process.

    Called by the raw steps: the exports load (mostly DuckDB, outside the GIL) while GX imports,
    and the gates after them start at once. The gates wait for this thread before importing GX
    themselves: one thread at a time imports it."""
    global _warm_up
    if _warm_up is None:
        for module in (*SHARED_WITH_DAGSTER, *SWAP_LOGGER_CLASS):
            if importlib.util.find_spec(module.split(".")[0]) is not None:  # zstandard, greenlet: not in every install
                importlib.import_module(module)
        _warm_up = threading.Thread(target=_import_gx, name="gx-warm-up", daemon=True)
        _warm_up.start()


def _warmed_up() -> None:
    if _warm_up is not None:
        _warm_up.join()


class GateRunner:
    """One GX context per run; evaluate gate targets; build Data Docs; release the warehouse."""

    def __init__(self, warehouse_path: Path, *, now: dt.datetime | None = None):
        self.warehouse_path = Path(warehouse_path)
        self.now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        self._ctx = None
        self._sql_ds = None
        self._pandas_ds = None
        self._suites: dict[str, Any] = {}
        self._n = 0

    # --- GX context -------------------------------------------------------------------
    @staticmethod
    def _quiet_context():
        """An in-memory GX context without progress bars or INFO chatter (this runner's and Spark's)."""
        _warmed_up()
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        for name in ("great_expectations", "great_expectations.core", "great_expectations.expectations"):
            logging.getLogger(name).setLevel(logging.ERROR)
        ctx = gx.get_context(mode="ephemeral")
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        return ctx

    def _context(self):
        if self._ctx is None:
            from .gx_duckdb import readonly_url

            self._ctx = self._quiet_context()
            tmp = self.warehouse_path.parent / ".gx_tmp"
            url = readonly_url(self.warehouse_path, name=f"sop_gates_{os.getpid()}_{id(self)}",
                               memory_limit=MEMORY_LIMIT, temp_directory=tmp)
            self._sql_ds = self._ctx.data_sources.add_sql("warehouse", connection_string=url)
            self._pandas_ds = self._ctx.data_sources.add_pandas("warehouse_frames")
        return self._ctx

    def _suite(self, name: str, part: str, expectations: list[dict]):
        """The suite's SQL part or pandas part, registered in the context once."""
        import great_expectations as gx

        key = f"{name}" if part == "sql" else f"{name}.{part}"
        if key not in self._suites:
            raw = load_suite(Path(self._suite_path(name)))
            suite = gx.ExpectationSuite(name=key, expectations=expectations, meta={**raw.get("meta", {}), "part": part},
                                        notes=raw.get("notes"))
            self._suites[key] = self._context().suites.add(suite)
        return self._suites[key]

    @staticmethod
    def _suite_path(name: str) -> Path:
        from .registry import EXPECTATIONS_DIR

        return EXPECTATIONS_DIR / f"{name}.json"

    def close(self) -> None:
        """Release the warehouse file (a writer needs it next): detach it from the private in-memory
        database, which every connection of this runner and of GX shares, then drop the pools.
        The runner can evaluate again afterwards (a new connection attaches the file again)."""
        if self._sql_ds is None:
            return
        engines = [self._sql_ds.get_engine()]
        execution_engine = getattr(self._sql_ds, "_execution_engine", None)
        if execution_engine is not None and getattr(execution_engine, "engine", None) is not None:
            engines.append(execution_engine.engine)
        try:
            with engines[0].connect() as conn:
                conn.exec_driver_sql("USE memory")
                conn.exec_driver_sql(f"DETACH DATABASE IF EXISTS {self.warehouse_path.stem}")
        finally:
            for engine in engines:
                engine.dispose()

    # --- evaluation -------------------------------------------------------------------
    def evaluate(self, targets: list[GateTarget], windows: dict[tuple[str, str], dt.datetime | None] | None = None) -> list[GateOutcome]:
        windows = windows or {}
        return [self.evaluate_one(t, windows.get((t.gate.suite, t.asset))) for t in targets]

    def evaluate_one(self, target: GateTarget, window_start: dt.datetime | None = None) -> GateOutcome:
        """Materialise the window once (a table of the private in-memory database), then let GX
        run its metric queries on that table; drop it afterwards."""
        import sqlalchemy as sa

        t0 = time.perf_counter()
        self._context()
        raw = load_suite(self._suite_path(target.gate.suite))
        window_col = target.gate.window
        self._n += 1
        table = f"gate_window_{self._n}"
        try:
            with self._sql_ds.get_engine().connect() as conn:
                conn.exec_driver_sql(f"CREATE OR REPLACE TABLE memory.main.{table} AS {windowed_sql(target, window_start)}")
                rows, window_end = conn.exec_driver_sql(
                    f"SELECT count(*), {f'max({window_col})' if window_col else 'NULL'} FROM memory.main.{table}").fetchone()
                columns = [d[0] for d in conn.exec_driver_sql(f"SELECT * FROM memory.main.{table} LIMIT 0").cursor.description]
        except sa.exc.SQLAlchemyError as exc:
            msg = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            _log.warning("gate %s could not read %s: %s", target.label, target.relation[:80], msg)
            outcomes = [ExpectationOutcome(e["meta"]["id"], e["type"], e["kwargs"].get("column"), False, None, None, None,
                                           error=msg, notes=e["meta"].get("notes")) for e in raw["expectations"]]
            return GateOutcome(target, window_start, None, 0, outcomes, time.perf_counter() - t0, error=msg)
        try:
            sql = f"SELECT * FROM memory.main.{table}"
            keys = [k for k in target.keys if k in columns]
            sql_part = [e for e in raw["expectations"] if e["type"] not in SQL_ONLY_TYPES_UNSUPPORTED]
            pandas_part = [e for e in raw["expectations"] if e["type"] in SQL_ONLY_TYPES_UNSUPPORTED]
            results: dict[str, Any] = {}
            params = {"now": self.now.isoformat(sep=" "), **target.parameters}
            if sql_part:
                results.update(self._run_sql(target, sql, sql_part, keys, params))
            if pandas_part:
                results.update(self._run_pandas(target, sql, pandas_part, keys, params))
            outcomes = [self._outcome(e, results.get(e["meta"]["id"]), rows) for e in raw["expectations"]]
            if target.gate.is_data_gate:
                self._quarantine_keys(target, sql, raw["expectations"], outcomes, keys, params)
        finally:
            with self._sql_ds.get_engine().connect() as conn:
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS memory.main.{table}")
        return GateOutcome(target, window_start, window_end if rows else None, int(rows), outcomes, time.perf_counter() - t0)

    def _quarantine_keys(self, target: GateTarget, sql: str, expectations: list[dict], outcomes: list[ExpectationOutcome],
                         keys: list[str], params: dict) -> None:
        """The keys of every row a data gate lets through below its tolerance, from GX (COMPLETE).
        A row GX cannot name by the gate's keys cannot be quarantined: the expectation then fails
        (the domain is held back) rather than letting the row into the KPIs."""
        tolerated = {o.expectation: o for o in outcomes if o.tolerated}
        if not tolerated:
            return
        if len(keys) < len(target.keys):
            for o in tolerated.values():
                o.success, o.error = False, (f"{o.unexpected} row(s) below the tolerance cannot be quarantined: "
                                             f"{target.relation} lacks the key column(s) "
                                             f"{', '.join(k for k in target.keys if k not in keys)}")
            return
        chosen = [e for e in expectations if e["meta"]["id"] in tolerated]
        fmt = {"result_format": "COMPLETE", "unexpected_index_column_names": keys, "return_unexpected_index_query": False}
        sql_part = [e for e in chosen if e["type"] not in SQL_ONLY_TYPES_UNSUPPORTED]
        pandas_part = [e for e in chosen if e["type"] in SQL_ONLY_TYPES_UNSUPPORTED]
        results: dict[str, Any] = {}
        if sql_part:
            results.update(self._run_sql(target, sql, sql_part, keys, params, result_format=fmt, part="sql.complete"))
        if pandas_part:
            results.update(self._run_pandas(target, sql, pandas_part, keys, params, result_format=fmt,
                                            part="pandas.complete"))
        for eid, o in tolerated.items():
            r = results.get(eid)
            index = [] if r is None else list((r.result or {}).get("unexpected_index_list") or [])
            o.quarantined_index = [dict(row) for row in index]
            if len(o.quarantined_index) != o.unexpected:
                o.success, o.error = False, (f"GX named {len(o.quarantined_index)} of the {o.unexpected} row(s) below "
                                             "the tolerance: they cannot all be quarantined")

    def _validation_name(self, target: GateTarget, part: str) -> str:
        return f"{target.gate.suite}@{target.asset.replace('/', '.')}#{self._n}.{part}"

    def _result_format(self, keys: list[str]) -> dict:
        # return_unexpected_index_query: GX would render the SQL of the offending rows as text for
        # the report and fails on DuckDB's $n parameters; the keys themselves are what we report.
        fmt = {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE, "return_unexpected_index_query": False}
        if keys:
            fmt["unexpected_index_column_names"] = keys
        return fmt

    def _run_sql(self, target: GateTarget, sql: str, expectations: list[dict], keys: list[str], params: dict,
                 result_format: dict | None = None, part: str = "sql") -> dict:
        import great_expectations as gx

        name = self._validation_name(target, part)
        asset = self._sql_ds.add_query_asset(name, query=sql)
        batch = asset.add_batch_definition_whole_table("window")
        suite = self._suite(target.gate.suite, part, expectations)
        vd = self._ctx.validation_definitions.add(gx.ValidationDefinition(data=batch, suite=suite, name=name))
        res = vd.run(result_format=result_format or self._result_format(keys), expectation_parameters=params)
        return {r.expectation_config.meta.get("id"): r for r in res.results}

    def _run_pandas(self, target: GateTarget, sql: str, expectations: list[dict], keys: list[str], params: dict,
                    result_format: dict | None = None, part: str = "pandas") -> dict:
        """Regular expressions: GX's SQL path cannot run them on DuckDB; validate a frame of the
        needed columns only, read from the same window over the same read-only connection."""
        import great_expectations as gx

        needed = sorted(set().union(*(_columns_of(e) for e in expectations)) | set(keys))
        cols = ", ".join(f'"{c}"' for c in needed)
        with self._sql_ds.get_engine().connect() as conn:
            frame = conn.connection.driver_connection.execute(f"SELECT {cols} FROM ({sql}) AS w").df()
        name = self._validation_name(target, part)
        batch = self._pandas_ds.add_dataframe_asset(name).add_batch_definition_whole_dataframe("window")
        suite = self._suite(target.gate.suite, part, expectations)
        vd = self._ctx.validation_definitions.add(gx.ValidationDefinition(data=batch, suite=suite, name=name))
        res = vd.run(batch_parameters={"dataframe": frame}, result_format=result_format or self._result_format(keys),
                      expectation_parameters=params)
        return {r.expectation_config.meta.get("id"): r for r in res.results}

    @staticmethod
    def _outcome(expectation: dict, result, rows_in_window: int) -> ExpectationOutcome:
        kw = expectation.get("kwargs", {})
        column = kw.get("column") or (f"{kw['column_A']}, {kw['column_B']}" if "column_A" in kw else None)
        eid = expectation["meta"]["id"]
        base = dict(expectation=eid, expectation_type=expectation["type"], column=column,
                    notes=expectation["meta"].get("notes"), mostly=mostly(expectation))
        if result is None:
            return ExpectationOutcome(**base, success=False, rows_evaluated=None, unexpected=None, unexpected_percent=None,
                                      error="the expectation produced no result")
        msg = _exception_message(result.exception_info)
        if msg:
            return ExpectationOutcome(**base, success=False, rows_evaluated=None, unexpected=None, unexpected_percent=None, error=msg)
        r = result.result or {}
        element_count = r.get("element_count")
        if element_count is None:  # table-level expectation: it looked at the whole window
            evaluated = rows_in_window
        else:
            evaluated = int(element_count) - int(r.get("missing_count") or 0)
        unexpected = r.get("unexpected_count")
        if unexpected is None and element_count is None:
            unexpected = 0 if result.success else 1
        values = [v for v in (r.get("partial_unexpected_list") or [])][:SAMPLE_SIZE]
        index = [dict(x) for x in (r.get("partial_unexpected_index_list") or [])][:SAMPLE_SIZE]
        observed = r.get("observed_value")
        if observed is None and r.get("details", {}).get("mismatched"):
            observed = r["details"]["mismatched"]
        return ExpectationOutcome(
            **base, success=bool(result.success), rows_evaluated=evaluated,
            unexpected=None if unexpected is None else int(unexpected),
            unexpected_percent=_number(r.get("unexpected_percent")),
            observed_value=observed, unexpected_values=values, unexpected_keys=index,
        )

    # --- Data Docs ----------------------------------------------------------------------
    def build_data_docs(self, site_dir: Path) -> Path | None:
        """GX's own Data Docs (suites and this run's validation results) as a static site."""
        if self._ctx is None:
            return None
        import shutil

        site_dir = Path(site_dir)
        shutil.rmtree(site_dir, ignore_errors=True)  # the site shows the latest run, not a pile of old ones
        site_dir.mkdir(parents=True, exist_ok=True)
        self._ctx.add_data_docs_site(site_name="sop_gates", site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })
        self._ctx.build_data_docs(site_names=["sop_gates"])
        return site_dir / "index.html"
