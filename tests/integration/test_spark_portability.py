"""The same dbt project on DuckDB and on Spark (dbt-spark, `session` method, local mode) gives the same KPIs.

From one set of demo exports: ingestion loads DuckDB and writes the raw zone (typed Parquet by
export date); dbt builds the marts on DuckDB (subprocess) and on Spark (in this process: one
SparkSession, one JVM, for the whole module,
its tables in Spark's in-memory catalog: KPI_SPARK_CATALOG, the Derby metastore is for separate dbt processes) — a full refresh, then one nightly day with the
partition window vars (pipelines/partitions.py), its tables and incremental model rebuilt.
fct_kpi_daily must agree row for row (values to 6 significant digits; column types may differ). The SOP gates run on Spark from the same suites
and must reach the same verdicts as on DuckDB.

Marker `spark`: `pytest -m 'not spark'` skips it in a quick run; `make test` and CI run it.
"""
from __future__ import annotations

import datetime as dt
import decimal
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.exports import EXPORTS
from pipelines.settings import DBT_PROJECT_DIR, Settings

pytestmark = pytest.mark.spark

DBT = str(Path(sys.executable).with_name("dbt"))
END = dt.date(2026, 3, 20)
DAYS = 10
SCALE = 0.05
LOOKBACK = 3
# SOP compliance is dated by the run that evaluated the gates: not a function of the exports.
KPI_SQL = ("SELECT kpi_id, domain, kpi_date, segment_type, segment, numerator, denominator, value, unit, target, status "
           "FROM marts.fct_kpi_daily WHERE domain <> 'sop'")
KEY = 5  # kpi_id, domain, kpi_date, segment_type, segment


def _day_of(path: Path) -> dt.date | None:
    try:
        return dt.date.fromisoformat(path.name.split(".")[0][-10:])
    except ValueError:
        return None  # a snapshot (one file, no day)


def _deliver(src: Path, landing: Path, *, through: dt.date | None = None, only: dt.date | None = None) -> None:
    for f in sorted(p for p in src.rglob("*") if p.is_file()):
        day = _day_of(f)
        if (day == only) if only else (day is None or day <= through):
            dest = landing / f.relative_to(src)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dest)


def _ingest(s: Settings) -> dict[str, int]:
    """Load every export into DuckDB; the loader writes the raw zone. Returns partitions rewritten per export."""
    from pipelines.ingest import load_export
    from pipelines.warehouse import connect

    rewritten: dict[str, int] = {}
    with connect(s.warehouse_path) as con:
        for e in EXPORTS:
            lines: list[str] = []
            load_export(con, e, s.landing_dir, log=lines.append)
            rewritten[e.name] = sum(int(x.rsplit(" ", 1)[1]) for x in lines if "raw zone partition(s) rewritten" in x)
    return rewritten


def _dbt_args(root: Path, target: str, vars_: dict | None, full_refresh: bool) -> list[str]:
    """A full refresh builds the seeds and every model; a nightly day rebuilds what holds data (tables and the
    incremental model): the seeds and the views over the sources stand as the full refresh left them."""
    args = ["build", "--target", target, "--project-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(root / f"dbt_target_{target}"), "--log-path", str(root / f"dbt_logs_{target}")]
    if full_refresh:
        args += ["--resource-type", "seed", "--resource-type", "model", "--full-refresh"]
    else:
        args += ["--resource-type", "model", "--exclude", "config.materialized:view"]
    if vars_:
        args += ["--vars", "{" + ", ".join(f"{k}: '{v}'" for k, v in vars_.items()) + "}"]
    return args


def _dbt_duckdb(root: Path, *, vars_: dict | None = None, full_refresh: bool = False) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([DBT, *_dbt_args(root, "duckdb", vars_, full_refresh)], env=dict(os.environ),
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"dbt on DuckDB failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    return time.perf_counter() - t0


def _dbt_spark(root: Path, *, vars_: dict | None = None, full_refresh: bool = False) -> float:
    """dbt in this process: dbt-spark's session method reuses the SparkSession (and JVM) of the last call."""
    from dbt.cli.main import dbtRunner

    t0 = time.perf_counter()
    res = dbtRunner().invoke([*_dbt_args(root, "spark", vars_, full_refresh), "--quiet"])
    failed = [f"{r.node.unique_id}: {r.message}" for r in getattr(res.result, "results", None) or [] if getattr(r, "status", None) in ("error", "fail")]
    assert res.success, f"dbt on Spark failed: {res.exception or ''} {failed[:5]} (log: {root / 'dbt_logs_spark'})"
    return time.perf_counter() - t0


def _norm(v):
    if isinstance(v, (decimal.Decimal, float, int)) and not isinstance(v, bool):
        return float(v)
    return v


def _duckdb_rows(s: Settings, sql: str) -> list[tuple]:
    with duckdb.connect(str(s.warehouse_path), read_only=True) as con:
        return sorted(tuple(_norm(v) for v in r) for r in con.execute(sql).fetchall())


def _spark_rows(spark, sql: str) -> list[tuple]:
    return sorted(tuple(_norm(v) for v in r) for r in spark.sql(sql).collect())


def _differences(a: list[tuple], b: list[tuple]) -> list[str]:
    """Row-for-row comparison by key; numbers equal to 6 significant digits (exact decimals on both,
    but a mean of doubles may differ in its last bits with the order the engines add them in)."""
    out = []
    ka = {r[:KEY]: r for r in a}
    kb = {r[:KEY]: r for r in b}
    out += [f"only on DuckDB: {k}" for k in sorted(ka.keys() - kb.keys(), key=str)[:10]]
    out += [f"only on Spark: {k}" for k in sorted(kb.keys() - ka.keys(), key=str)[:10]]
    for k in sorted(ka.keys() & kb.keys(), key=str):
        for x, y in zip(ka[k][KEY:], kb[k][KEY:]):
            same = (x == y) if not (isinstance(x, float) and isinstance(y, float)) else math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-6)
            if not same:
                out.append(f"{k}: DuckDB {ka[k][KEY:]} vs Spark {kb[k][KEY:]}")
                break
    return out


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    from pipelines.exports.demo import generate_demo_exports
    from pipelines.partitions import Window

    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        pytest.fail("the Spark portability test needs Java 17+ (java on PATH or JAVA_HOME): e.g. apt-get install openjdk-17-jre-headless")
    root = tmp_path_factory.mktemp("spark_portability")
    env = {"KPI_LANDING_DIR": str(root / "landing"), "KPI_WAREHOUSE_PATH": str(root / "warehouse" / "kpi.duckdb"),
           "KPI_SERVING_PATH": str(root / "serving" / "kpi.duckdb"), "KPI_SPARK_DIR": str(root / "spark"),
           "KPI_RAW_ZONE_DIR": str(root / "raw_zone"), "KPI_BUSINESS_TIMEZONE": "UTC", "KPI_BASE_CURRENCY": "USD",
           "KPI_INCREMENTAL_LOOKBACK_DAYS": str(LOOKBACK), "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
           "KPI_SPARK_SHUFFLE_PARTITIONS": "2", "KPI_SPARK_CATALOG": "in-memory"}
    mp = pytest.MonkeyPatch()
    for k, v in env.items():
        mp.setenv(k, v)
    try:
        s = Settings.from_env()
        for k, v in {**s.dbt_env(), **s.spark_env()}.items():
            mp.setenv(k, v)
        generate_demo_exports(root / "all", days=DAYS, scale=SCALE, seed=11, end_date=END, progress=None)
        _deliver(root / "all", s.landing_dir, through=END - dt.timedelta(days=1))
        out: dict = {"settings": s, "timings": {}}
        out["rewritten_full"] = _ingest(s)
        out["timings"]["duckdb_full"] = _dbt_duckdb(root, full_refresh=True)
        out["timings"]["spark_full"] = _dbt_spark(root, full_refresh=True)

        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()  # the session dbt-spark started
        out["spark"] = spark
        out["full"] = (_duckdb_rows(s, KPI_SQL), _spark_rows(spark, KPI_SQL))

        from pipelines.sop.registry import load_registry
        from pipelines.sop.gate_runner import GateRunner
        from pipelines.sop.spark_runner import SparkGateRunner, spark_targets

        targets = spark_targets(load_registry())
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        t0 = time.perf_counter()
        out["gates_spark"] = SparkGateRunner(spark, now=now).evaluate(targets)
        out["timings"]["spark_gates"] = time.perf_counter() - t0
        duck = GateRunner(s.warehouse_path, now=now)
        try:
            out["gates_duckdb"] = duck.evaluate(targets)
        finally:
            duck.close()

        # The nightly run of the next day: its files arrive, the partition window is rebuilt.
        _deliver(root / "all", s.landing_dir, only=END)
        out["rewritten_day"] = _ingest(s)
        window = Window(min_date=END - dt.timedelta(days=LOOKBACK), max_date=END, partition_start=END, reason="test")
        out["timings"]["duckdb_day"] = _dbt_duckdb(root, vars_=window.dbt_vars())
        out["timings"]["spark_day"] = _dbt_spark(root, vars_=window.dbt_vars())
        out["day"] = (_duckdb_rows(s, KPI_SQL), _spark_rows(spark, KPI_SQL))
        sessions = "SELECT count(*), max(session_date) FROM intermediate.int_storefront__sessions"
        out["sessions"] = (_duckdb_rows(s, sessions), _spark_rows(spark, sessions))
        print(f"spark portability timings (s): {out['timings']}")
        yield out
    finally:
        mp.undo()
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        if active is not None:  # free the JVM's memory for the tests that run after this module
            active.stop()


def test_raw_zone_is_partitioned_by_export_date_and_only_new_days_are_rewritten(engines):
    s = engines["settings"]
    orders = s.raw_zone_dir / "orders"
    days = sorted(p.name for p in orders.glob("export_date=*"))
    assert days[0] == f"export_date={END - dt.timedelta(days=DAYS - 1)}" and days[-1] == f"export_date={END}", days
    assert engines["rewritten_full"]["orders"] == DAYS - 1
    # The nightly delivery is one file per daily export: one partition each, the others untouched.
    daily = [e.name for e in EXPORTS if e.cadence == "daily"]
    assert {engines["rewritten_day"][n] for n in daily} == {1}, engines["rewritten_day"]
    assert all(engines["rewritten_day"][e.name] == 0 for e in EXPORTS if e.cadence != "daily")
    # Both engines read the same rows: DuckDB's raw table and the zone's files agree.
    with duckdb.connect(str(s.warehouse_path), read_only=True) as con:
        in_table = con.execute("SELECT count(*) FROM raw.orders").fetchone()[0]
        in_zone = con.execute(f"SELECT count(*) FROM read_parquet('{orders}/*/*.parquet', hive_partitioning = true)").fetchone()[0]
    assert in_table == in_zone > 0


def test_full_refresh_gives_the_same_kpis_on_duckdb_and_spark(engines):
    on_duckdb, on_spark = engines["full"]
    assert len(on_duckdb) > 500, "the demo should yield a real KPI table"
    assert _differences(on_duckdb, on_spark) == []


def test_incremental_day_gives_the_same_kpis_on_duckdb_and_spark(engines):
    on_duckdb, on_spark = engines["day"]
    assert max(r[2] for r in on_duckdb) == END == max(r[2] for r in on_spark), "the new day must be in the marts"
    assert len(on_duckdb) > len(engines["full"][0])
    assert _differences(on_duckdb, on_spark) == []
    # The incremental model (delete+insert on DuckDB, insert_overwrite of date partitions on Spark).
    assert engines["sessions"][0] == engines["sessions"][1]


def test_sop_gates_reach_the_same_verdicts_on_spark(engines):
    spark_out, duck_out = engines["gates_spark"], engines["gates_duckdb"]
    assert len(spark_out) == len(duck_out) > 20
    mismatches = []
    for a, b in zip(spark_out, duck_out):
        assert a.error is None, f"{a.target.label}: {a.error}"
        for ea, eb in zip(a.expectations, b.expectations):
            assert ea.error is None, f"{a.target.label} {ea.expectation}: {ea.error}"
            if (ea.success, ea.unexpected, ea.rows_evaluated) != (eb.success, eb.unexpected, eb.rows_evaluated):
                mismatches.append(f"{a.target.label} {ea.expectation}: Spark {(ea.success, ea.unexpected, ea.rows_evaluated)} "
                                  f"DuckDB {(eb.success, eb.unexpected, eb.rows_evaluated)}")
    assert mismatches == []
    assert sum(o.rows_in_window for o in spark_out) > 0


def test_gate_results_land_in_the_spark_warehouse(engines):
    from pipelines.sop.spark_runner import write_results_spark

    spark = engines["spark"]
    outcomes = engines["gates_spark"]
    n = write_results_spark(spark, "portability-test", outcomes, dt.datetime(2026, 3, 21, 2, 0))
    got = spark.sql("SELECT count(*), sum(CASE WHEN success THEN 1 ELSE 0 END) FROM ops.sop_check_results "
                    "WHERE run_id = 'portability-test'").first()
    assert got[0] == n == sum(len(o.expectations) for o in outcomes)
    assert got[1] == sum(e.success for o in outcomes for e in o.expectations)
