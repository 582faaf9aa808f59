"""`kpi bench`: the pipeline side by side with what DuckDB alone does and with what a user writes in pandas.

One run, on one generated data set (data/bench/<params>/landing, reused when its parameters match):

* **pipeline**: `kpi run` as a user runs it, in a subprocess pointed at the bench folder; stage
  times come from the runner (KPI_TIMINGS_PATH), peak memory from sampling the process tree.
  The full refresh runs without the last day's files; then they are delivered and the nightly
  incremental run of that day is timed (`kpi run --partition <last day>`, or `--incremental-cmd`).
* **floor**: the same transformations without Dagster, dbt or gates: the raw tables loaded with
  plain `read_csv` / `read_json` / `read_parquet`, then every model's dbt-compiled SQL run in
  topological order in one DuckDB connection.
* **baseline**: the KPIs a user without this project would compute with pandas from the same files.

Then it checks that the three agree and writes reports/bench/bench_<scale>.json and .md.
Floor and baseline run in subprocesses too (`python -m pipelines.bench floor|baseline ...`),
so every contender's memory is sampled the same way and a pandas OOM does not end the benchmark.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from .exports import BY_NAME, EXPORTS
from .exports.contract import Export
from .exports.render import LINEAGE_COLUMNS
from .settings import DBT_PROJECT_DIR, PROJECT_ROOT

BENCH_ROOT = PROJECT_ROOT / "data" / "bench"
# A fixed last day, so a bench folder generated yesterday is still reused today.
DEFAULT_END_DATE = dt.date(2026, 10, 31)
WAREHOUSE_NAME = "kpi.duckdb"  # the same file name (= DuckDB catalog) for pipeline and floor: compiled SQL names it
TARGETS = {"pipeline_over_floor_max": 2.0, "baseline_over_pipeline_min": 3.0, "peak_memory_gb_max": 6.0,
           "fixed_cost_seconds_max": 30.0, "incremental_over_full_max": 0.15}


def _say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- process tree sampling ----------------------------------------------------------------

def run_measured(cmd: list[str], *, env: dict[str, str] | None = None, log_path: Path | None = None,
                 echo: bool = True, interval: float = 0.2) -> dict:
    """Run cmd; wall seconds, return code and peak RSS sum of its whole process tree (sampled every `interval` s)."""
    import psutil

    t0 = time.perf_counter()
    proc = psutil.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            try:
                tree = [proc, *proc.children(recursive=True)]
            except psutil.Error:
                break
            total = 0
            for p in tree:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass  # a child that ended between listing and reading
            peak = max(peak, total)
            stop.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    tail: list[str] = []
    with open(log_path or os.devnull, "w") as log:
        for line in proc.stdout:
            log.write(line)
            tail = (tail + [line.rstrip()])[-40:]
            if echo:
                print(f"    {line.rstrip()}", flush=True)
    code = proc.wait()
    stop.set()
    sampler.join()
    return {"seconds": time.perf_counter() - t0, "returncode": code, "peak_rss_bytes": peak, "tail": tail}


# --- data -------------------------------------------------------------------------------------

def bench_folder(scale: float, days: int, seed: int, end_date: dt.date, root: Path = BENCH_ROOT) -> Path:
    return root / f"scale{scale:g}_days{days}_seed{seed}_{end_date.isoformat()}"


def ensure_data(folder: Path, *, scale: float, days: int, seed: int, end_date: dt.date) -> dict:
    """Demo exports for these parameters in folder/landing: generated once, reused after."""
    from .exports.demo import generate_demo_exports

    params = {"scale": scale, "days": days, "seed": seed, "end_date": end_date.isoformat()}
    marker = folder / "landing.json"
    landing = folder / "landing"
    if marker.exists() and json.loads(marker.read_text()).get("params") == params:
        info = json.loads(marker.read_text())
        _say(f"reusing the exports in {landing} ({sum(info['rows'].values()):,} rows)")
        return info
    shutil.rmtree(landing, ignore_errors=True)
    _say(f"generating demo exports (scale {scale:g}, {days} days) into {landing}")
    t0 = time.perf_counter()
    rows = generate_demo_exports(landing, days=days, scale=scale, seed=seed, end_date=end_date,
                                 progress=lambda m: _say(f"  {m}"))
    info = {"params": params, "rows": rows, "generate_seconds": time.perf_counter() - t0,
            "bytes": sum(p.stat().st_size for p in landing.rglob("*") if p.is_file())}
    marker.write_text(json.dumps(info, indent=1))
    return info


# --- pipeline ---------------------------------------------------------------------------------

def _pipeline_env(folder: Path, timings: Path) -> dict[str, str]:
    run = folder / "pipeline"
    return {**os.environ, "KPI_LANDING_DIR": str(folder / "landing"),
            "KPI_WAREHOUSE_PATH": str(run / "warehouse" / WAREHOUSE_NAME),
            "KPI_SERVING_PATH": str(run / "serving" / WAREHOUSE_NAME), "KPI_SOP_DOCS_DIR": str(run / "sop_docs"),
            "DAGSTER_HOME": str(run / "dagster_home"), "KPI_TIMINGS_PATH": str(timings),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


def _stages(timings: dict, wall: float) -> dict:
    """Wall seconds per stage from the runner's step timings: the dbt steps, the SOP gate steps."""
    ingest = dbt = gates = publish = 0.0
    for step, secs in timings.get("steps", {}).items():
        if step.startswith("dbt_"):
            dbt += secs
        elif step.startswith(("data_gates__", "process_gates__")):
            gates += secs
        elif "serving" in step or "dashboard" in step:
            publish += secs
        else:
            ingest += secs
    startup = max(timings.get("since_process_start", 0.0) - timings.get("run_seconds", 0.0), 0.0)
    return {"ingest": ingest, "dbt": dbt, "gates": gates, "publish": publish,
            # process start, imports, loading the definitions, run launch and teardown
            "overhead": wall - ingest - dbt - gates - publish, "total": wall,
            # where the fixed cost goes
            "startup": startup, "launch": timings.get("launch_seconds", 0.0),
            "events": sum(timings.get("event_counts", {}).values())}


def run_pipeline(folder: Path, kpi: str) -> dict:
    """A full refresh as a user runs it: `kpi run` on a new warehouse and run history."""
    run = folder / "pipeline"
    shutil.rmtree(run, ignore_errors=True)
    (run / "dagster_home").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "config" / "dagster.yaml", run / "dagster_home" / "dagster.yaml")
    timings = run / "timings_full.json"
    _say("pipeline: full refresh (kpi run)")
    m = run_measured([kpi, "run"], env=_pipeline_env(folder, timings), log_path=run / "kpi_run.log")
    if m["returncode"] != 0:
        _say(f"pipeline run FAILED (exit {m['returncode']}); see {run / 'kpi_run.log'}")
    t = json.loads(timings.read_text()) if timings.exists() else {}
    return {**m, "stages": _stages(t, m["seconds"]), "timings": t, "success": m["returncode"] == 0}


def incremental_command(kpi: str, explicit: str | None, day: dt.date) -> list[str]:
    """The nightly incremental run: the given command, else the one the schedule runs (`kpi run --partition DAY`)."""
    if explicit:
        return shlex.split(explicit)
    return [kpi, "run", "--partition", day.isoformat()]


def hold_back_day(landing: Path, day: dt.date, aside: Path) -> list[tuple[Path, Path]]:
    """Move the landing files of `day` (named <export>_<day>.*) aside: the full refresh runs without them,
    the nightly run then gets them as a new day's delivery. Returns (landing path, aside path) pairs."""
    moved = []
    for f in sorted(landing.rglob(f"*_{day.isoformat()}.*")):
        target = aside / f.relative_to(landing)
        target.parent.mkdir(parents=True, exist_ok=True)
        f.replace(target)
        moved.append((f, target))
    return moved


def deliver(moved: list[tuple[Path, Path]]) -> None:
    for original, aside in moved:
        aside.replace(original)


def run_incremental(folder: Path, cmd: list[str]) -> dict:
    """The nightly run right after the full refresh: the held-back last day is delivered, its partition is run."""
    timings = folder / "pipeline" / "timings_incremental.json"
    _say(f"pipeline: nightly incremental run of the last day ({' '.join(cmd)})")
    m = run_measured(cmd, env=_pipeline_env(folder, timings), log_path=folder / "pipeline" / "incremental.log")
    t = json.loads(timings.read_text()) if timings.exists() else {}
    return {**m, "measured": True, "stages": _stages(t, m["seconds"]), "success": m["returncode"] == 0}


# --- floor: DuckDB alone ----------------------------------------------------------------------

def compile_models(folder: Path, dbt: str, pipeline_warehouse: Path) -> Path:
    """`dbt compile` into the floor's own target path (not timed); returns manifest.json.

    Compiled against a copy of the pipeline's warehouse: fct_kpi_daily reads only the KPI marts that
    exist (relation_exists), and the floor builds every one of them before it."""
    floor = folder / "floor"
    shutil.rmtree(floor, ignore_errors=True)
    floor.mkdir(parents=True)
    shutil.copyfile(pipeline_warehouse, floor / WAREHOUSE_NAME)
    env = {**os.environ, "KPI_WAREHOUSE_PATH": str(floor / WAREHOUSE_NAME), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    _say("floor: dbt compile (not timed)")
    proc = subprocess.run([dbt, "compile", "--quiet", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
                           str(DBT_PROJECT_DIR), "--target-path", str(floor / "target"), "--select", "resource_type:model"],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"dbt compile failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    (floor / WAREHOUSE_NAME).unlink(missing_ok=True)  # compile may have created it: the floor starts empty
    return floor / "target" / "manifest.json"


def _raw_select(e: Export, landing: Path) -> str:
    """Plain DuckDB reader of one export's files, typed per its contract, with the lineage columns dbt reads."""
    glob = str(landing / e.file_glob).replace("'", "''")
    prefix = (str(landing) + "/").replace("'", "''")  # lineage names files relative to the landing folder
    lineage = ", ".join(f"cast(null as {t}) as {n}" for n, (t, _) in LINEAGE_COLUMNS.items() if n != "_source_file")
    cols = ", ".join(f'cast("{c.name}" as {c.type}) as "{c.name}"' for c in e.columns)
    types = "{" + ", ".join(f"'{c.name}': '{c.type}'" for c in e.columns) + "}"
    if e.format == "csv":
        # Columns named in the first file's header order, no sniffing: the fastest plain read_csv of many files.
        first = next(iter(sorted(landing.glob(e.file_glob))), None)
        header = first.open().readline().strip().split(e.delimiter) if first else e.column_names
        named = "{" + ", ".join(f"'{h}': '{e.column(h).type}'" for h in header) + "}"
        src = (f"read_csv('{glob}', header = true, auto_detect = false, filename = true, delim = '{e.delimiter}', "
               f"quote = '\"', escape = '\"', columns = {named})")
    elif e.format == "jsonl":
        src = f"read_json('{glob}', format = 'newline_delimited', filename = true, columns = {types})"
    else:
        src = f"read_parquet('{glob}', union_by_name = true, filename = true)"
    return f"select {cols}, replace(filename, '{prefix}', '') as _source_file, {lineage} from {src}"


def _model_order(manifest: dict) -> list[dict]:
    """Models to build, parents first (ephemeral ones are inlined by compile)."""
    nodes = {uid: n for uid, n in manifest["nodes"].items()
             if n["resource_type"] == "model" and n["config"]["materialized"] != "ephemeral"}
    done: set[str] = set()
    order: list[dict] = []

    def visit(uid: str) -> None:
        if uid in done:
            return
        done.add(uid)
        for dep in nodes[uid]["depends_on"]["nodes"]:
            if dep in nodes:
                visit(dep)
        order.append(nodes[uid])

    for uid in sorted(nodes):
        visit(uid)
    return order


def run_floor(folder: Path, manifest_path: Path, pipeline_warehouse: Path) -> dict:
    """Raw load + every compiled model in one connection; seconds per phase (runs in its own process)."""
    from .warehouse import connect

    manifest = json.loads(manifest_path.read_text())
    (folder / "floor" / WAREHOUSE_NAME).unlink(missing_ok=True)
    con = connect(folder / "floor" / WAREHOUSE_NAME)
    # Not timed: the seeds, the SOP ops tables and the loader's bookkeeping (raw._load_log, raw._rejects)
    # that some models read, copied from the pipeline's warehouse: small, and made by dbt, the gates
    # and the loader, which the floor leaves out.
    con.execute(f"ATTACH '{pipeline_warehouse}' AS pipe (READ_ONLY)")
    for schema, table in con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'pipe' "
            "and (schema_name in ('seeds', 'ops') or (schema_name = 'raw' and table_name like '\\_%' escape '\\'))").fetchall():
        con.execute(f"create schema if not exists {schema}")
        con.execute(f"create table {schema}.{table} as select * from pipe.{schema}.{table}")
    con.execute("DETACH pipe")
    t0 = time.perf_counter()
    con.execute("create schema if not exists raw")
    landing = folder / "landing"
    for e in EXPORTS:
        con.execute(f"create or replace table raw.{e.name} as {_raw_select(e, landing)}")
    t_ingest = time.perf_counter() - t0
    per_layer: dict[str, float] = {}
    t1 = time.perf_counter()
    for node in _model_order(manifest):
        t = time.perf_counter()
        con.execute(f'create schema if not exists "{node["database"]}"."{node["schema"]}"')
        kind = "view" if node["config"]["materialized"] == "view" else "table"  # incremental: built in full
        con.execute(f"create or replace {kind} {node['relation_name']} as {node['compiled_code']}")
        layer = node["fqn"][1]
        per_layer[layer] = per_layer.get(layer, 0.0) + time.perf_counter() - t
    t_models = time.perf_counter() - t1
    con.close()
    return {"ingest": t_ingest, "models": t_models, "total": time.perf_counter() - t0, "per_layer": per_layer,
            "models_built": len(_model_order(manifest))}


# --- baseline: pandas -------------------------------------------------------------------------

# The KPIs the pandas baseline computes; the others are named, with the reason, in the report.
BASELINE_KPIS = (
    "sf_conversion_rate", "sf_cart_abandonment_rate", "cs_csat_rate", "cs_csat_score", "cs_escalation_rate",
    "mf_availability_rate", "mf_performance_rate", "mf_quality_rate", "mf_oee_rate", "mf_cycle_time_seconds",
    "mf_scrap_rate", "mk_spend_amount", "mk_ctr_rate", "mk_cpc_amount", "lg_on_time_delivery_rate",
    "lg_transportation_cost_amount", "lg_stockout_rate",
)
BASELINE_SKIPPED_WHY = (
    "not in the pandas baseline: they need multi-export business logic (last-touch campaign attribution, "
    "customers' first orders, refunds on the refund day, order-line vs shipment-line matching, cohort "
    "months, 28-day demand windows, ticket interaction sequences) whose re-implementation would be "
    "hundreds of lines of a second KPI engine; the 17 computed KPIs cover every source system and "
    "every large export (web sessions and events, orders, tickets, shipments, inventory snapshots)"
)


def _read(landing: Path, name: str, columns: list[str]):
    """One export's files into pandas, typed per its contract (as a user would write it)."""
    import pandas as pd

    e = BY_NAME[name]
    files = sorted(landing.glob(e.file_glob))
    if e.format == "csv":
        frames = [pd.read_csv(f, usecols=lambda c: c in columns, dtype=str, sep=e.delimiter) for f in files]
    elif e.format == "jsonl":
        frames = [pd.read_json(f, lines=True, dtype=False) for f in files if f.stat().st_size]
        frames = [f.reindex(columns=columns) for f in frames]
    else:
        frames = [pd.read_parquet(f, columns=columns) for f in files]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    for c in columns:
        t = e.column(c).type
        if t in ("TIMESTAMP", "DATE"):
            df[c] = pd.to_datetime(df[c], format="ISO8601")
        elif t in ("BIGINT", "INTEGER", "DOUBLE") or t.startswith("DECIMAL"):
            df[c] = pd.to_numeric(df[c])
        elif t == "BOOLEAN":
            df[c] = df[c].map({"true": True, "false": False, True: True, False: False})
    return df


def _latest(df, name: str):
    """Change exports: keep the newest version of each key (files were read in order)."""
    e = BY_NAME[name]
    return df.sort_values(e.change_timestamp, kind="stable").drop_duplicates(list(e.primary_key), keep="last")


def _fx_to_base(landing: Path, base: str = "USD"):
    """Daily rate into the base currency per currency: published or inverted rates, forward-filled over days."""
    import pandas as pd

    fx = _read(landing, "fx_rates", ["rate_date", "currency", "quote_currency", "rate"])
    fx = fx[(fx.rate > 0) & (fx.currency != fx.quote_currency)]
    direct = fx[fx.quote_currency == base][["rate_date", "currency", "rate"]]
    inverse = fx[fx.currency == base].assign(currency=lambda d: d.quote_currency, rate=lambda d: 1 / d.rate)
    rates = pd.concat([direct, inverse[["rate_date", "currency", "rate"]]]).drop_duplicates(["rate_date", "currency"])
    days = pd.date_range(rates.rate_date.min(), rates.rate_date.max(), freq="D")
    wide = rates.pivot(index="rate_date", columns="currency", values="rate").reindex(days).ffill()
    wide[base] = 1.0
    long = wide.stack().rename("rate_to_base").reset_index()
    long.columns = ["rate_date", "currency", "rate_to_base"]
    return long


def _kpi(out: list, kpi_id: str, frame, num, den=None) -> None:
    """Append (kpi_id, kpi_date, numerator, denominator) rows: frame has kpi_date; num/den are column names."""
    g = frame.groupby("kpi_date")
    part = g[num].sum().rename("numerator").to_frame()
    part["denominator"] = g[den].sum() if den else None
    out.append(part.reset_index().assign(kpi_id=kpi_id))


def run_baseline(landing: Path):
    """The daily 'all' KPIs of BASELINE_KPIS with pandas: a long frame kpi_id, kpi_date, numerator, denominator."""
    import numpy as np
    import pandas as pd

    out: list = []
    fx = _fx_to_base(landing)

    # storefront: sessions with a purchase (an order carries the session) and with an add-to-cart
    sessions = _read(landing, "web_sessions", ["session_id", "started_at"])
    events = _read(landing, "web_events", ["session_id", "event_type"])
    orders = _latest(_read(landing, "orders", ["order_id", "session_id", "updated_at"]), "orders")
    sessions["kpi_date"] = sessions.started_at.dt.normalize()
    sessions["purchase"] = sessions.session_id.isin(orders.session_id.dropna())
    sessions["cart"] = sessions.session_id.isin(events.session_id[events.event_type == "add_to_cart"])
    sessions["one"] = 1
    sessions["cart_no_purchase"] = sessions.cart & ~sessions.purchase
    _kpi(out, "sf_conversion_rate", sessions, "purchase", "one")
    _kpi(out, "sf_cart_abandonment_rate", sessions, "cart_no_purchase", "cart")
    del events

    # customer service
    csat = _read(landing, "csat_responses", ["response_id", "responded_at", "score"])
    csat = csat[csat.score.notna() & csat.responded_at.notna()].assign(
        kpi_date=lambda d: d.responded_at.dt.normalize(), satisfied=lambda d: d.score >= 4, one=1)
    _kpi(out, "cs_csat_rate", csat, "satisfied", "one")
    _kpi(out, "cs_csat_score", csat, "score", "one")
    tickets = _latest(_read(landing, "tickets", ["ticket_id", "created_at", "updated_at"]), "tickets")
    inter = _read(landing, "ticket_interactions", ["ticket_id", "event_type"])
    tickets = tickets.assign(kpi_date=tickets.created_at.dt.normalize(), one=1,
                             escalated=tickets.ticket_id.isin(inter.ticket_id[inter.event_type == "escalated"]))
    _kpi(out, "cs_escalation_rate", tickets, "escalated", "one")

    # manufacturing: OEE time model, unplanned stops clipped to the run and merged where they overlap
    runs = _read(landing, "production_runs", ["run_id", "scheduled_start", "scheduled_end", "planned_downtime_minutes",
                                              "ideal_cycle_seconds", "total_count", "good_count", "scrap_count"])
    stops = _read(landing, "downtime_events", ["downtime_id", "run_id", "started_at", "ended_at", "is_planned"])
    stops = stops[stops.is_planned.ne(True)].merge(runs[["run_id", "scheduled_start", "scheduled_end"]], on="run_id")
    stops = stops[(stops.started_at < stops.scheduled_end) & (stops.ended_at > stops.scheduled_start)]
    stops = stops.assign(s=np.maximum(stops.started_at, stops.scheduled_start), e=np.minimum(stops.ended_at, stops.scheduled_end))
    stops = stops.sort_values(["run_id", "s", "e", "downtime_id"])
    reach = stops.groupby("run_id").e.cummax().groupby(stops.run_id).shift()
    stops["island"] = (reach.isna() | (stops.s > reach)).cumsum()
    islands = stops.groupby(["run_id", "island"]).agg(s=("s", "min"), e=("e", "max"))
    unplanned = ((islands.e - islands.s).dt.total_seconds()).groupby(level="run_id").sum().rename("unplanned")
    runs = runs.merge(unplanned, left_on="run_id", right_index=True, how="left")
    planned = (runs.scheduled_end - runs.scheduled_start).dt.total_seconds() - (runs.planned_downtime_minutes.fillna(0) * 60).round()
    runs = runs.assign(kpi_date=runs.scheduled_start.dt.normalize(), planned=planned,
                       run=planned - runs.unplanned.fillna(0),
                       ideal_total=(runs.ideal_cycle_seconds * runs.total_count).round(4),
                       ideal_good=(runs.ideal_cycle_seconds * runs.good_count).round(4))
    _kpi(out, "mf_availability_rate", runs, "run", "planned")
    _kpi(out, "mf_performance_rate", runs, "ideal_total", "run")
    _kpi(out, "mf_quality_rate", runs, "good_count", "total_count")
    _kpi(out, "mf_oee_rate", runs, "ideal_good", "planned")
    _kpi(out, "mf_cycle_time_seconds", runs, "run", "total_count")
    _kpi(out, "mf_scrap_rate", runs, "scrap_count", "total_count")

    # marketing: spend in base currency at the spend date's rate
    spend = _read(landing, "ad_spend_daily", ["spend_date", "impressions", "clicks", "spend_amount", "currency"])
    spend = spend.merge(fx, left_on=["spend_date", "currency"], right_on=["rate_date", "currency"], how="left")
    spend = spend.assign(kpi_date=spend.spend_date, spend=(spend.spend_amount * spend.rate_to_base).round(4))
    _kpi(out, "mk_spend_amount", spend, "spend")
    _kpi(out, "mk_ctr_rate", spend, "clicks", "impressions")
    _kpi(out, "mk_cpc_amount", spend, "spend", "clicks")

    # logistics
    ship = _latest(_read(landing, "shipments", ["shipment_id", "shipped_at", "delivered_at", "promised_delivery_date",
                                                 "shipping_cost", "currency", "updated_at"]), "shipments")
    delivered = ship[ship.delivered_at.notna()].assign(one=1)
    delivered = delivered.assign(kpi_date=delivered.delivered_at.dt.normalize(),
                                 on_time=delivered.delivered_at.dt.normalize() <= delivered.promised_delivery_date)
    _kpi(out, "lg_on_time_delivery_rate", delivered, "on_time", "one")
    shipped = ship[ship.shipped_at.notna()].assign(kpi_date=lambda d: d.shipped_at.dt.normalize())
    shipped = shipped.merge(fx, left_on=["kpi_date", "currency"], right_on=["rate_date", "currency"], how="left")
    shipped["cost"] = (shipped.shipping_cost * shipped.rate_to_base).round(4)
    _kpi(out, "lg_transportation_cost_amount", shipped, "cost")
    inv = _read(landing, "inventory_snapshots", ["snapshot_date", "on_hand", "reserved"])
    inv = inv.assign(kpi_date=inv.snapshot_date, one=1,
                     stockout=(inv.on_hand.fillna(0) - inv.reserved.fillna(0)) <= 0)
    _kpi(out, "lg_stockout_rate", inv, "stockout", "one")

    result = pd.concat(out, ignore_index=True)
    result["kpi_date"] = pd.to_datetime(result.kpi_date)
    result["numerator"] = result.numerator.astype(float)
    result["denominator"] = result.denominator.astype(float)
    return result[["kpi_id", "kpi_date", "numerator", "denominator"]]


# --- agreement --------------------------------------------------------------------------------

def _all_rows(warehouse: Path):
    from .warehouse import connect

    con = connect(warehouse, read_only=True)
    try:
        return con.execute(
            "select kpi_id, kpi_date, numerator::double as numerator, denominator::double as denominator "
            "from marts.fct_kpi_daily where segment_type = 'all' and domain <> 'sop'").df()
    finally:
        con.close()


def compare(pipeline_wh: Path, floor_wh: Path, baseline_path: Path | None) -> dict:
    """Pipeline vs floor row for row (sop rows excluded: the floor runs no gates); baseline vs pipeline per KPI × day."""
    import pandas as pd

    pipe = _all_rows(pipeline_wh)
    floor = _all_rows(floor_wh)
    key = ["kpi_id", "kpi_date"]

    def rounded(df):
        return df.assign(numerator=df.numerator.round(6), denominator=df.denominator.round(6)).sort_values(key)

    m = rounded(pipe).merge(rounded(floor), on=key, how="outer", suffixes=("_p", "_f"), indicator=True)
    differs = (m._merge != "both") | ~(
        ((m.numerator_p - m.numerator_f).abs().fillna(0) <= 1e-6) & (m.numerator_p.isna() == m.numerator_f.isna())
        & ((m.denominator_p - m.denominator_f).abs().fillna(0) <= 1e-6) & (m.denominator_p.isna() == m.denominator_f.isna()))
    result = {"floor": {"pipeline_rows": len(pipe), "floor_rows": len(floor), "mismatched_rows": int(differs.sum()),
                        "examples": m[differs].head(5).astype(str).to_dict("records")}}
    if baseline_path is not None and baseline_path.exists():
        base = pd.read_parquet(baseline_path)
        base["kpi_date"] = pd.to_datetime(base.kpi_date)
        p = pipe[pipe.kpi_id.isin(base.kpi_id.unique())].assign(kpi_date=lambda d: pd.to_datetime(d.kpi_date))
        b = base.merge(p, on=key, how="outer", suffixes=("_b", "_p")).fillna(
            {"numerator_b": 0, "denominator_b": 0, "numerator_p": 0, "denominator_p": 0})

        def close(x, y):  # per-row rounding of money to 1/10000 in the warehouse: relative tolerance
            return (x - y).abs() <= 1e-6 + 1e-6 * y.abs().clip(lower=1)

        bad = ~(close(b.numerator_b, b.numerator_p) & close(b.denominator_b, b.denominator_p))
        per_kpi = {k: {"days": int((b.kpi_id == k).sum()), "mismatched_days": int((bad & (b.kpi_id == k)).sum())}
                   for k in sorted(b.kpi_id.unique())}
        result["baseline"] = {"kpis_compared": len(per_kpi), "rows_compared": len(b), "mismatched_rows": int(bad.sum()),
                              "per_kpi": per_kpi, "examples": b[bad].head(8).astype(str).to_dict("records")}
    return result


# --- the report -------------------------------------------------------------------------------

def _gb(b: float) -> float:
    return b / 1e9


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def _fmt(x, digits=1, unit=""):
    return "—" if x is None else f"{x:,.{digits}f}{unit}"


def render_markdown(r: dict) -> str:
    p, f, b, inc, c = r["pipeline"], r["floor"], r["baseline"], r["incremental"], r["agreement"]
    s = p["stages"]
    rt = r["ratios"]
    lines = [
        f"# Benchmark: scale {r['params']['scale']:g}, {r['params']['days']} days",
        "",
        f"{r['data']['rows_total']:,} rows in {len(r['data']['rows'])} exports ({_gb(r['data']['bytes']):.2f} GB on disk); "
        f"run on {r['machine']['cpus']} CPUs, {r['machine']['memory_gb']:.1f} GB RAM, load {r['machine']['load_before']} "
        f"before; {r['finished_at']}.",
        "",
        "## Side by side (seconds, peak memory of the process tree)",
        "",
        "| | ingest | transform (dbt) | gates | publish | overhead | total | peak memory |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        f"| pipeline (`kpi run`, full refresh) | {_fmt(s['ingest'])} | {_fmt(s['dbt'])} | {_fmt(s['gates'])} | "
        f"{_fmt(s['publish'])} | {_fmt(s['overhead'])} | **{_fmt(s['total'])}** | {_fmt(_gb(p['peak_rss_bytes']), 2, ' GB')} |",
    ]
    if inc.get("measured"):
        si = inc["stages"]
        lines.append(f"| pipeline (nightly incremental) | {_fmt(si['ingest'])} | {_fmt(si['dbt'])} | {_fmt(si['gates'])} | "
                     f"{_fmt(si['publish'])} | {_fmt(si['overhead'])} | **{_fmt(si['total'])}** | "
                     f"{_fmt(_gb(inc['peak_rss_bytes']), 2, ' GB')} |")
    else:
        lines.append(f"| pipeline (nightly incremental) | not measured: {inc['why']} | | | | | | |")
    lines += [
        f"| floor (DuckDB alone, compiled SQL) | {_fmt(f['ingest'])} | {_fmt(f['models'])} | — | — | "
        f"{_fmt(f['process_seconds'] - f['total'])} | **{_fmt(f['process_seconds'])}** | {_fmt(_gb(f['peak_rss_bytes']), 2, ' GB')} |",
        f"| baseline (pandas, {len(BASELINE_KPIS)} KPIs) | | | — | — | | **{_fmt(b.get('process_seconds'))}** "
        f"| {_fmt(_gb(b.get('peak_rss_bytes', 0)), 2, ' GB')} |" if b.get("success") else
        "| baseline (pandas) | skipped (--no-baseline) | | | | | | |" if b.get("skipped") else
        f"| baseline (pandas) | failed (exit {b.get('returncode')}{', out of memory' if b.get('oom') else ''}) | | | | | | "
        f"{_fmt(_gb(b.get('peak_rss_bytes', 0)), 2, ' GB')} |",
        "",
        "Overhead = process start, imports, loading the definitions, run launch and teardown (pipeline); "
        "interpreter start and connect (floor). Floor times use the floor's own process wall time.",
        "",
        f"Pipeline fixed costs inside those figures: process start, imports and definitions {_fmt(s['startup'])} s; "
        f"run launch (instance, Dagster's planned events for every asset and check) {_fmt(s['launch'])} s; "
        f"{s['events']:,} Dagster events in the run.",
        "",
        "## Against the targets",
        "",
        "| measure | value | target | |",
        "|---|---:|---:|---|",
    ]

    def row(name, value, target, ok, digits=2, unit=""):
        mark = "" if value is None or ok is None else ("met" if ok else "**missed**")
        lines.append(f"| {name} | {_fmt(value, digits, unit)} | {target} | {mark} |")

    row("pipeline ÷ floor (full refresh, totals)", rt["pipeline_over_floor"], "≤ 2.0", (rt["pipeline_over_floor"] or 99) <= 2.0)
    row("pipeline ÷ floor (transform: dbt ÷ compiled SQL)", rt["transform_over_floor"], "(info)", None)
    row("pipeline ÷ floor (ingest)", rt["ingest_over_floor"], "(info)", None)
    row("baseline ÷ pipeline", rt["baseline_over_pipeline"], "≥ 3 (or baseline OOM)",
        (rt["baseline_over_pipeline"] or 0) >= 3 or b.get("oom", False))
    row("peak memory (pipeline)", _gb(p["peak_rss_bytes"]), "≤ 6 GB", _gb(p["peak_rss_bytes"]) <= 6, unit=" GB")
    if r["params"]["scale"] <= 0.05 and r["params"]["days"] <= 10:
        row("fixed cost (total at the smallest scale)", s["total"], "≤ 30 s", s["total"] <= 30, 1, " s")
    row("incremental ÷ full", rt["incremental_over_full"], "≤ 0.15 at one year",
        rt["incremental_over_full"] is not None and rt["incremental_over_full"] <= 0.15)
    lines += [
        "",
        "## Do the three agree?",
        "",
        f"- pipeline vs floor, `fct_kpi_daily` 'all' rows (SOP compliance excluded: the floor runs no gates): "
        f"{c['floor']['pipeline_rows']:,} vs {c['floor']['floor_rows']:,} rows, **{c['floor']['mismatched_rows']} differ**.",
    ]
    if "baseline" in c:
        cb = c["baseline"]
        bad = {k: v for k, v in cb["per_kpi"].items() if v["mismatched_days"]}
        lines.append(f"- baseline vs pipeline, {cb['kpis_compared']} KPIs × day (numerator and denominator, relative "
                     f"tolerance 1e-6): {cb['rows_compared']:,} rows, **{cb['mismatched_rows']} differ**"
                     + (": " + ", ".join(f"{k} ({v['mismatched_days']}/{v['days']} days)" for k, v in bad.items()) if bad else "."))
    lines.append(f"- KPIs not in the baseline ({len(r['baseline_skipped'])}): {', '.join(r['baseline_skipped'])}; "
                 f"{BASELINE_SKIPPED_WHY}.")
    lines += ["", "## Floor detail", "", "| layer | seconds |", "|---|---:|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in f["per_layer"].items()]
    return "\n".join(lines) + "\n"


def _machine() -> dict:
    import psutil

    return {"cpus": os.cpu_count(), "memory_gb": psutil.virtual_memory().total / 1e9,
            "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def bench(*, scale: float, days: int, seed: int = 42, end_date: dt.date = DEFAULT_END_DATE, out: Path,
          incremental_cmd: str | None = None, skip_baseline: bool = False, root: Path = BENCH_ROOT) -> dict:
    """The whole benchmark; writes out/bench_<scale>.json and .md and returns the report."""
    bindir = Path(sys.executable).parent
    kpi, dbt = str(bindir / "kpi"), str(bindir / "dbt")
    machine = _machine()
    folder = bench_folder(scale, days, seed, end_date, root)
    folder.mkdir(parents=True, exist_ok=True)
    data = ensure_data(folder, scale=scale, days=days, seed=seed, end_date=end_date)

    # The full refresh loads every day but the last; the nightly run then delivers and runs that day,
    # as the schedule would the morning after. Floor and baseline read every day.
    held = hold_back_day(folder / "landing", end_date, folder / "held_back")
    try:
        pipeline = run_pipeline(folder, kpi)
    finally:
        deliver(held)
    _say(f"pipeline: {pipeline['seconds']:.1f}s, peak {_gb(pipeline['peak_rss_bytes']):.2f} GB")
    incremental = run_incremental(folder, incremental_command(kpi, incremental_cmd, end_date))
    pipeline_wh = folder / "pipeline" / "warehouse" / WAREHOUSE_NAME

    manifest = compile_models(folder, dbt, pipeline_wh)
    _say("floor: raw load + compiled SQL in one DuckDB connection")
    fl = run_measured([sys.executable, "-m", "pipelines.bench", "floor", str(folder), str(manifest), str(pipeline_wh)],
                      log_path=folder / "floor" / "floor.log")
    if fl["returncode"] != 0:
        raise RuntimeError("floor failed:\n" + "\n".join(fl["tail"]))
    floor = {**json.loads((folder / "floor" / "floor.json").read_text()), "process_seconds": fl["seconds"],
             "peak_rss_bytes": fl["peak_rss_bytes"]}
    _say(f"floor: {floor['process_seconds']:.1f}s, peak {_gb(floor['peak_rss_bytes']):.2f} GB")

    baseline_path = folder / "baseline.parquet"
    baseline: dict = {"success": False, "skipped": skip_baseline}
    if not skip_baseline:
        _say("baseline: pandas from the export files")
        baseline_path.unlink(missing_ok=True)
        bl = run_measured([sys.executable, "-m", "pipelines.bench", "baseline", str(folder / "landing"), str(baseline_path)],
                          log_path=folder / "baseline.log")
        baseline = {"success": bl["returncode"] == 0, "returncode": bl["returncode"], "process_seconds": bl["seconds"],
                    "peak_rss_bytes": bl["peak_rss_bytes"], "oom": bl["returncode"] in (-9, 137) or
                    any("MemoryError" in line for line in bl["tail"]), "tail": bl["tail"][-10:]}
        _say(f"baseline: {'ok' if baseline['success'] else 'FAILED'} in {bl['seconds']:.1f}s, "
             f"peak {_gb(bl['peak_rss_bytes']):.2f} GB")

    _say("checking that the three agree")
    agreement = compare(pipeline_wh, folder / "floor" / WAREHOUSE_NAME, baseline_path if baseline["success"] else None)
    from .warehouse import connect

    con = connect(pipeline_wh, read_only=True)  # every KPI id of the catalogue, as dbt built dim_kpi from it
    all_kpis = [k for (k,) in con.execute("select kpi_id from marts.dim_kpi where domain <> 'sop' order by 1").fetchall()]
    con.close()
    p_total, f_total = pipeline["stages"]["total"], floor["process_seconds"]
    report = {
        "params": {"scale": scale, "days": days, "seed": seed, "end_date": end_date.isoformat()},
        "finished_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine,
        "data": {"rows": data["rows"], "rows_total": sum(data["rows"].values()), "bytes": data["bytes"],
                 "generate_seconds": data["generate_seconds"], "folder": str(folder)},
        "pipeline": {k: v for k, v in pipeline.items() if k != "tail"},
        "incremental": {k: v for k, v in incremental.items() if k != "tail"},
        "floor": floor,
        "baseline": baseline,
        "baseline_kpis": list(BASELINE_KPIS),
        "baseline_skipped": [k for k in all_kpis if k not in BASELINE_KPIS],
        "agreement": agreement,
        "ratios": {
            "pipeline_over_floor": _ratio(p_total, f_total),
            "transform_over_floor": _ratio(pipeline["stages"]["dbt"], floor["models"]),
            "ingest_over_floor": _ratio(pipeline["stages"]["ingest"], floor["ingest"]),
            "baseline_over_pipeline": _ratio(baseline.get("process_seconds"), p_total) if baseline["success"] else None,
            "incremental_over_full": _ratio(incremental["seconds"], p_total) if incremental.get("measured") else None,
        },
        "targets": TARGETS,
    }
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"bench_{scale:g}"  # not with_suffix: the scale has a dot
    Path(f"{stem}.json").write_text(json.dumps(report, indent=1, default=str))
    Path(f"{stem}.md").write_text(render_markdown(report))
    _say(f"wrote {stem}.json and {stem}.md")
    return report


def _main(argv: list[str]) -> int:
    """Subprocess entry points: `floor <folder> <manifest> <pipeline warehouse>`, `baseline <landing> <out.parquet>`."""
    if argv[0] == "floor":
        folder = Path(argv[1])
        res = run_floor(folder, Path(argv[2]), Path(argv[3]))
        (folder / "floor" / "floor.json").write_text(json.dumps(res, indent=1))
        print(f"floor: ingest {res['ingest']:.1f}s, models {res['models']:.1f}s ({res['models_built']} models)")
        return 0
    if argv[0] == "baseline":
        t0 = time.perf_counter()
        result = run_baseline(Path(argv[1]))
        result.to_parquet(argv[2])
        print(f"baseline: {len(result):,} KPI rows in {time.perf_counter() - t0:.1f}s")
        return 0
    raise SystemExit(f"unknown bench step {argv[0]!r}")


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
