"""`kpi`: the project's command line (demo data, a full run, the KPI summary, generated contract files)."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import time
from pathlib import Path

from .settings import PROJECT_ROOT, get_settings

# `kpi run --job`: the jobs of pipelines/automation.py (tests/unit/test_cli.py checks this list against them).
JOBS = {
    "refresh_all": "load every export, build every dbt model, run every check, publish (default)",
    "ingest_exports": "only load new or changed landing files into raw",
    "export_freshness": "only evaluate the freshness checks of the exports and the KPI marts",
    "refresh_all_celery": "refresh_all with every step on a Celery worker (README: Distributed executors)",
    "publish_kpis": "only publish the snapshot and dashboard from the warehouse as it is (after a refresh held a domain back; kpi run launches it itself)",
}


def use_project_dagster_home() -> Path:
    """DAGSTER_HOME, defaulting to the project's `.dagster/` with config/dagster.yaml, as `make dev` has it.

    So a run from the shell lands in the run history the UI shows; a DAGSTER_HOME already set wins.
    config/dagster.yaml (the `duckdb_writer` pool) is copied there when missing, and into the project's
    `.dagster/` also when older (the Makefile's rule); a dagster.yaml of another DAGSTER_HOME is left alone.
    """
    default = PROJECT_ROOT / ".dagster"
    home = Path(os.environ.get("DAGSTER_HOME") or default)
    os.environ["DAGSTER_HOME"] = str(home)
    src, dst = PROJECT_ROOT / "config" / "dagster.yaml", home / "dagster.yaml"
    if not dst.exists() or (home == default and dst.stat().st_mtime < src.stat().st_mtime):
        home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    return home


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from .exports.demo import generate_demo_exports

    out = Path(args.out) if args.out else get_settings().landing_dir
    t0 = time.perf_counter()
    rows = generate_demo_exports(out, days=args.days, scale=args.scale, seed=args.seed, end_date=args.end_date,
                                 faults=args.faults)
    print(f"wrote {sum(rows.values()):,} rows in {len(rows)} exports to {out} in {time.perf_counter() - t0:.1f}s")
    return 0


def _cmd_contracts(args: argparse.Namespace) -> int:
    from .exports.render import generated_files, write_generated

    if args.check:
        stale = [p for p, text in generated_files().items() if not p.exists() or p.read_text() != text]
        for p in stale:
            print(f"out of date: {p} (run `kpi contracts`)", file=sys.stderr)
        return 1 if stale else 0
    for p in write_generated():
        print(f"wrote {p}")
    return 0


def _console():
    """Print a line as the user reads it: at once, no padding at its end, on the console of the command
    (run_job sends what a library prints during the run to its log file)."""
    console = sys.stdout
    return lambda line: print(line.rstrip(), file=console, flush=True)


def _cmd_run(args: argparse.Namespace) -> int:
    from .report import print_unmapped_values
    from .runner import run_job
    from .sop.summary import print_sop_summary

    use_project_dagster_home()
    say = _console()
    started = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    try:
        ok = run_job(args.job, partitions=args.partition, full_refresh=True if args.full_refresh else None,
                     executor=args.executor, print_fn=say)
    except ValueError as exc:  # a bad partition, or --executor celery without its setup: say what, no traceback
        print(f"kpi run: {exc}", file=sys.stderr)
        return 2
    settings = get_settings()
    if settings.sop_gates:
        print_sop_summary(settings.warehouse_path, docs_dir=settings.sop_docs_dir, print_fn=say, run_started=started)
    print_unmapped_values(settings.warehouse_path, print_fn=say)
    return 0 if ok else 1


def _cmd_sop(args: argparse.Namespace) -> int:
    from .sop.docs import build_site
    from .sop.registry import load_registry
    from .sop.summary import print_sop_summary

    settings = get_settings()
    reg = load_registry()  # validates the registry and every suite: an editing mistake is named here
    if args.action == "docs":
        print(f"wrote {build_site(settings.sop_docs_dir, registry=reg, warehouse_path=settings.warehouse_path)}")
    elif args.action == "check":
        print(f"{reg.path}: {len(reg.sops)} SOPs, {len(reg.gates)} gates, {len(reg.targets())} checks: valid")
    else:
        print_sop_summary(settings.warehouse_path, reg=reg, docs_dir=settings.sop_docs_dir)
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    from .report import print_kpi_summary

    print_kpi_summary(get_settings().warehouse_path, days=args.days)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .exports.demo import generate_demo_exports
    from .exports.demo_faults import resolve as resolve_faults
    from .report import print_kpi_summary, print_unmapped_values
    from .runner import run_job

    from .sop.summary import failed_data_gates, print_sop_summary

    # The demo's KPIs are judged against the demo's targets, a business's against its own (settings.TARGET_SETS).
    os.environ.setdefault("KPI_TARGETS", "demo")

    use_project_dagster_home()
    say = _console()
    settings = get_settings()
    # The landing folder remembers which faults its demo exports carry: asking for others regenerates.
    marker = settings.landing_dir / ".demo_faults.json"
    faults = sorted(resolve_faults(args.faults))
    had = json.loads(marker.read_text()) if marker.exists() else []
    if args.regenerate or had != faults or not any(settings.landing_dir.glob("*/*/*")):
        print(f"==> generating demo exports (scale {args.scale}, {args.days} days) into {settings.landing_dir}"
              + (f" with faults: {', '.join(faults)} (docs/faults.md)" if faults else ""))
        generate_demo_exports(settings.landing_dir, days=args.days, scale=args.scale, seed=args.seed, faults=faults)
        marker.write_text(json.dumps(faults))
    else:
        print(f"==> using the exports already in {settings.landing_dir} (--regenerate to replace them)")
    print(f"==> materializing every asset into {settings.warehouse_path}")
    ok = run_job("refresh_all", print_fn=say)
    print_sop_summary(settings.warehouse_path, docs_dir=settings.sop_docs_dir, print_fn=say)
    blocked = failed_data_gates(settings.warehouse_path)
    if not ok and not (faults and blocked):
        return 1
    print_kpi_summary(settings.warehouse_path, print_fn=say)
    print_unmapped_values(settings.warehouse_path, print_fn=say)
    if not ok:
        print(f"\n==> the run failed as the injected faults intend: {len(blocked)} data gate(s) stopped the KPI models "
              "downstream of broken data; the other domains were built (see above and the Dagster UI).")
    _say_where_to_look(settings, published=ok, say=say)
    return 0


def _say_where_to_look(settings, *, published: bool, say) -> None:
    """The end of `kpi demo`: what it produced and what to open next."""
    def shown(path: Path) -> str:
        return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)

    lines = ["", "==> where to look next"]
    if published:
        lines += [f"  dashboard        {shown(settings.dashboard_path)}  (open it in a browser; works offline)",
                  f"  serving snapshot {shown(settings.serving_path)}  (read-only, for BI tools: docs/bi_connection_guide.md)",
                  "  BI app           make bi, then http://127.0.0.1:8501 (a page per domain over the snapshot)"]
    else:
        lines.append(f"  nothing was published (a blocking check failed): {shown(settings.serving_path)} is the previous snapshot, if any")
    lines += [f"  SOP site         {shown(settings.sop_docs_dir / 'index.html')}  (a page per SOP, GX Data Docs)",
              f"  warehouse        {shown(settings.warehouse_path)}  (the pipeline's own; dbt docs: make docs)",
              "  Dagster UI       make dev, then http://127.0.0.1:3000 (this run is in its run history)"]
    for line in lines:
        say(line)


def _cmd_docs(args: argparse.Namespace) -> int:
    """dbt docs for the marts contract: generate against the warehouse, then serve on loopback."""
    import functools
    import http.server
    import subprocess
    import warnings

    import dagster as dg

    from .settings import DBT_PROJECT_DIR

    with warnings.catch_warnings():  # the dbt assets' beta options, irrelevant to the docs (as in definitions.py)
        warnings.simplefilter("ignore", dg.BetaWarning)
        from .transform import DBT_EXECUTABLE

    settings = get_settings()
    if not settings.warehouse_path.exists():
        print(f"no warehouse at {settings.warehouse_path}: run `make demo` (or `kpi run`) first", file=sys.stderr)
        return 1
    out = settings.dbt_target_dir / "docs"
    env = {**os.environ, **settings.dbt_env(), "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR)}
    proc = subprocess.run(
        [DBT_EXECUTABLE, "docs", "generate", "--project-dir", str(DBT_PROJECT_DIR), "--target-path", str(out)], env=env
    )
    if proc.returncode != 0:
        return proc.returncode
    print(f"dbt docs written to {out}")
    if args.no_serve:
        return 0
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    with http.server.ThreadingHTTPServer((args.host, args.port), handler) as server:
        print(f"serving the marts documentation on http://{args.host}:{server.server_address[1]}/ (Ctrl-C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from .bench import DEFAULT_END_DATE, bench

    report = bench(scale=args.scale, days=args.days, seed=args.seed, end_date=args.end_date or DEFAULT_END_DATE,
                   out=Path(args.out), incremental_cmd=args.incremental_cmd, skip_baseline=args.no_baseline)
    print((Path(args.out) / f"bench_{args.scale:g}.md").read_text())
    agree = report["agreement"]
    return 0 if report["pipeline"]["success"] and agree["floor"]["mismatched_rows"] == 0 else 1


def _date(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


def build_parser() -> argparse.ArgumentParser:
    from importlib.metadata import version

    p = argparse.ArgumentParser(prog="kpi", description=__doc__)
    p.add_argument("--version", action="version", version=f"%(prog)s {version('kpi-sop-pipeline')}")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo-data", help="write demo exports of every source system")
    d.add_argument("--out", help="landing folder (default: KPI_LANDING_DIR or data/landing)")
    d.add_argument("--days", type=int, default=90, help="days of history (default 90)")
    d.add_argument("--scale", type=float, default=1.0, help="volume multiplier (default 1: a small shop)")
    d.add_argument("--seed", type=int, default=42, help="random seed: same seed, same files")
    d.add_argument("--end-date", type=_date, default=None, help="last day of data, YYYY-MM-DD (default: yesterday)")
    d.add_argument("--faults", nargs="?", const="default", default=None, metavar="NAMES",
                   help="inject SOP breaches (docs/faults.md): the default set, 'all', or fault names, comma-separated")
    d.set_defaults(fn=_cmd_demo_data)

    c = sub.add_parser("contracts", help="regenerate the dbt sources and docs from the export contracts")
    c.add_argument("--check", action="store_true", help="only report generated files that are out of date")
    c.set_defaults(fn=_cmd_contracts)

    r = sub.add_parser("run", help="materialize a job in this process (default: everything)",
                       description="Run a job in this process. Runs are recorded in DAGSTER_HOME (default: the "
                                   "project's .dagster/, the run history `make dev` shows).",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="jobs:\n" + "\n".join(f"  {name:<20} {text}" for name, text in JOBS.items()))
    r.add_argument("--job", default="refresh_all", choices=tuple(JOBS), metavar="JOB",
                   help="the job to run: " + ", ".join(JOBS) + " (default refresh_all; see below)")
    r.add_argument("--partition", metavar="DAY[..DAY]",
                   help="run for a business day or a range of days (one run): incremental dbt models rebuild that "
                        "window and KPI_INCREMENTAL_LOOKBACK_DAYS before it (default: a full refresh of every day)")
    r.add_argument("--full-refresh", action="store_true",
                   help="rebuild the incremental dbt models from scratch (the default without --partition)")
    r.add_argument("--executor", choices=("in_process", "celery"), default=None,
                   help="in_process: every step in this process; celery: every step on a Celery worker, broker "
                        "KPI_CELERY_BROKER (README: Distributed executors); default KPI_EXECUTOR or in_process")
    r.set_defaults(fn=_cmd_run)

    s = sub.add_parser("summary", help="print the KPIs of the last complete week from the warehouse")
    s.add_argument("--days", type=int, default=7, help="length of the period in days (default 7: a week)")
    s.set_defaults(fn=_cmd_summary)

    m = sub.add_parser("demo", help="demo data (if the landing folder is empty) + full run + KPI summary")
    m.add_argument("--regenerate", action="store_true",
                   help="write new demo exports even if the landing folder has some")
    m.add_argument("--days", type=int, default=90, help="days of history when generating (default 90)")
    m.add_argument("--scale", type=float, default=1.0, help="volume multiplier when generating (default 1: a small shop)")
    m.add_argument("--seed", type=int, default=42, help="random seed when generating: same seed, same files")
    m.add_argument("--faults", nargs="?", const="default", default=None, metavar="NAMES",
                   help="demo exports with SOP breaches (docs/faults.md): the run shows failing gates, blocked marts and compliance below 100 %%")
    m.set_defaults(fn=_cmd_demo)

    o = sub.add_parser("sop", help="SOP gates: latest results and compliance, the SOP site, registry check",
                       description="Without an action: the latest gate results and compliance (as `kpi sop report`).")
    o.set_defaults(fn=_cmd_sop)
    actions = o.add_subparsers(dest="action", metavar="ACTION")  # none given: report
    for name, text in (("report", "the latest gate results and compliance of every SOP (the default)"),
                       ("docs", "rebuild the SOP site (a page per SOP, GX Data Docs) in KPI_SOP_DOCS_DIR"),
                       ("check", "validate expectations/sops.yml and every suite it names, without running anything")):
        actions.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")

    o = sub.add_parser("docs", help="generate the dbt docs (the marts contract) and serve them on loopback")
    o.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1: this machine only)")
    o.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    o.add_argument("--no-serve", action="store_true", help="only generate")
    o.set_defaults(fn=_cmd_docs)

    b = sub.add_parser("bench", help="time the pipeline against DuckDB alone and a pandas baseline (README: Benchmark)")
    b.add_argument("--scale", type=float, default=1.0, help="volume multiplier of the demo exports (default 1)")
    b.add_argument("--days", type=int, default=90, help="days of history (default 90)")
    b.add_argument("--seed", type=int, default=42, help="random seed of the demo exports (default 42)")
    b.add_argument("--end-date", type=_date, default=None, help="last day of data (default: a fixed date, so data are reused)")
    b.add_argument("--out", default="reports/bench", help="folder of bench_<scale>.json/.md (default reports/bench)")
    b.add_argument("--incremental-cmd", default=None,
                   help="command of the nightly incremental run (default: `kpi run --partition <last day>`, as the schedule runs it)")
    b.add_argument("--no-baseline", action="store_true", help="skip the pandas baseline")
    b.set_defaults(fn=_cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code = args.fn(args)
    if argv is None and "duckdb_engine" in sys.modules:
        # As the console script, after SOP gates ran: end without the interpreter's teardown, where
        # duckdb's bindings report objects duckdb-engine keeps until exit ("nanobind: leaked ...").
        import logging

        if "pipelines.dbt_in_process" in sys.modules:
            from .dbt_in_process import release_process_state

            release_process_state()
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
